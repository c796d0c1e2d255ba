import Foundation
import Testing
import ReplicaCore

@Suite("S3 keys")
struct S3KeyTests {
    @Test("New credentials have the shape S3 clients expect, and differ every time")
    func credentials() {
        let (access, secret) = S3Credentials.generate()
        #expect(S3Credentials.isAccessKey(access))
        #expect(secret.count == 40)
        #expect(secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/") })
        let many = Set((0..<200).map { _ in S3Credentials.generate().accessKey })
        #expect(many.count == 200)
        #expect(!S3Credentials.isAccessKey("AKIAIOSFODNN7EXAMPLE"))
        #expect(!S3Credentials.isAccessKey("FSDF"))
    }

    @Test("A sealed secret opens only with the same swarm password and for the same access key")
    func sealing() throws {
        let mine = try SwarmKey(password: "correct horse battery")
        let theirs = try SwarmKey(password: "another swarm's password")
        let seal = S3SecretSeal(key: mine.derivedKey(for: S3SecretSeal.purpose))
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        let sealed = try seal.seal(secret, for: "FSDFAAAAAAAAAAAAAAAA")
        #expect(!String(decoding: sealed, as: UTF8.self).contains(secret), "not kept in clear")
        #expect(try seal.open(sealed, for: "FSDFAAAAAAAAAAAAAAAA") == secret)
        #expect(throws: S3KeyError.cannotOpen("FSDFBBBBBBBBBBBBBBBB")) { try seal.open(sealed, for: "FSDFBBBBBBBBBBBBBBBB") }
        let other = S3SecretSeal(key: theirs.derivedKey(for: S3SecretSeal.purpose))
        #expect(throws: S3KeyError.cannotOpen("FSDFAAAAAAAAAAAAAAAA")) { try other.open(sealed, for: "FSDFAAAAAAAAAAAAAAAA") }
        var altered = sealed
        altered[altered.count / 2] ^= 1
        #expect(throws: S3KeyError.cannotOpen("FSDFAAAAAAAAAAAAAAAA")) { try seal.open(altered, for: "FSDFAAAAAAAAAAAAAAAA") }
    }
}

@Suite("S3 bucket names")
struct S3BucketNameTests {
    @Test("Bucket names follow S3's rules")
    func names() {
        for good in ["abc", "my-bucket.2026", "a1b", String(repeating: "a", count: 63)] {
            #expect(S3BucketName.problem(good) == nil, "\(good)")
        }
        for bad in ["ab", String(repeating: "a", count: 64), "Photos", "-abc", "abc-", "a..b", "a_b", "192.168.5.4", "a b", ".abc", "ü-bucket"] {
            #expect(S3BucketName.problem(bad) != nil, "\(bad)")
        }
    }
}
