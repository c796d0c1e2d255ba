import Foundation
import Testing
import ReplicaCore
import TestSupport

extension Integration {
    /// fsdfs's Signature Version 4 verifier against the requests boto3 signs (botocore's own
    /// signers, run from the test venv): odd keys, query parameters, user metadata, presigned.
    @Suite("S3 signatures from boto3")
    struct S3SignatureClientTests {
        struct Signed: Decodable {
            var method: String
            var url: String
            var headers: [[String]]
        }

        static func request(_ signed: Signed) throws -> S3SignedRequest {
            let components = try #require(URLComponents(string: signed.url))
            let path = try #require(components.percentEncodedPath.removingPercentEncoding)
            let query = (components.percentEncodedQueryItems ?? []).map {
                S3Pair($0.name.removingPercentEncoding ?? $0.name, ($0.value ?? "").removingPercentEncoding ?? "")
            }
            var headers = signed.headers.map { S3Pair($0[0], $0[1]) }
            if !headers.contains(where: { $0.name.lowercased() == "host" }) {
                headers.append(S3Pair("Host", "\(components.host ?? ""):\(components.port ?? 80)"))
            }
            return S3SignedRequest(method: signed.method, path: path, query: query, headers: headers)
        }

        @Test("Every request boto3 signs checks out with the right secret, and none with another")
        func boto3Signatures() async throws {
            let (access, secret) = S3Credentials.generate()
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients/sign_requests.py")
            let process = Process()
            process.executableURL = try PrometheusScrape.python()
            process.arguments = [script.path, access, secret, "http://127.0.0.1:9000"]
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "botocore could not sign (is boto3 in the test venv? bash .ci/run installs it): \(message)")
            let cases = try JSONDecoder().decode([Signed].self, from: data)
            #expect(cases.count == 7)
            for signed in cases {
                let request = try Self.request(signed)
                do {
                    let caller = try await SigV4Verifier.verify(request, now: Date()) { $0 == access ? secret : nil }
                    #expect(caller.accessKey == access, "\(signed.method) \(signed.url)")
                } catch {
                    Issue.record("\(signed.method) \(signed.url) signed by botocore was refused: \(error)")
                }
                await #expect(throws: S3AuthError.signatureMismatch, "\(signed.method) \(signed.url) with another secret") {
                    try await SigV4Verifier.verify(request, now: Date()) { _ in String(secret.reversed()) }
                }
            }
        }
    }
}
