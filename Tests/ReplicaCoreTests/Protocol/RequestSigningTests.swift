import Foundation
import ReplicaCore
import Testing

private let password = "correct horse battery staple"
private let t0 = Date(timeIntervalSince1970: 1_700_000_000)

private func at(_ seconds: TimeInterval) -> Date {
    t0.addingTimeInterval(seconds)
}

private func sha(_ text: String) -> String {
    RequestSignature.sha256Hex(of: Array(text.utf8))
}

/// A signer and a verifier sharing one swarm key.
private struct Swarm {
    let key: SwarmKey
    let signer: RequestSigner
    let verifier: RequestVerifier

    init(password: String = password, window: TimeInterval = 300, maxNonces: Int = 100_000) throws {
        key = try SwarmKey(password: password)
        signer = RequestSigner(key: key)
        verifier = RequestVerifier(key: key, names: NodeNames([Self.node]), window: window, maxNonces: maxNonces)
    }

    /// The node the verifier is: the target requests are signed for.
    static let node = "node-a.example:4242"
    var node: String { Self.node }

    func sign(
        _ method: String = "PUT", _ target: String = "/files/a", body: String = "hello", at now: Date = t0, for node: String = node
    ) -> SignedHeaders {
        signer.sign(method: method, target: node, pathAndQuery: target, body: Array(body.utf8), now: now)
    }

    func verify(
        _ headers: SignedHeaders?,
        _ method: String = "PUT",
        _ target: String = "/files/a",
        body: String = "hello",
        at now: Date = t0
    ) throws(AuthError) {
        try verifier.verify(method: method, pathAndQuery: target, headers: headers, bodySHA256: sha(body), now: now)
    }
}

@Suite("Request signing")
struct RequestSigningTests {
    // MARK: Accepting

    @Test func aSignedRequestVerifies() throws {
        let swarm = try Swarm()
        try swarm.verify(swarm.sign())
    }

    @Test func aRequestWithoutABodySignsTheHashOfTheEmptyString() throws {
        let swarm = try Swarm()
        #expect(RequestSignature.emptyBodySHA256 == sha(""))
        let headers = swarm.signer.sign(method: "GET", target: swarm.node, pathAndQuery: "/status", body: [UInt8](), now: t0)
        #expect(headers.contentSHA256 == RequestSignature.emptyBodySHA256)
        try swarm.verifier.verify(
            method: "GET", pathAndQuery: "/status", headers: headers, bodySHA256: RequestSignature.emptyBodySHA256, now: t0
        )
    }

    @Test func theMethodIsSignedUpperCased() throws {
        let swarm = try Swarm()
        try swarm.verify(swarm.sign("put"), "PUT", "/files/a")
        #expect(
            RequestSignature.canonicalString(method: "delete", target: "a:1", pathAndQuery: "/x", timestamp: "1", nonce: "n", bodySHA256: "h")
                .hasPrefix("DELETE\n")
        )
    }

    @Test func aTrailingQuestionMarkWithAnEmptyQueryIsSignedAsThePathAlone() throws {
        let swarm = try Swarm()
        try swarm.verify(swarm.sign("PUT", "/files/a"), "PUT", "/files/a?")
        try swarm.verify(swarm.sign("PUT", "/files/a?"), "PUT", "/files/a")
        #expect(RequestSignature.pathAndQuery(path: "/files/a", query: nil) == "/files/a")
        #expect(RequestSignature.pathAndQuery(path: "/files/a", query: "") == "/files/a")
        #expect(RequestSignature.pathAndQuery(path: "/files/a", query: "n=2") == "/files/a?n=2")
    }

    // MARK: Tampering

    @Test func changingTheMethodFailsWithBadSignature() throws {
        let swarm = try Swarm()
        #expect(throws: AuthError.badSignature) { try swarm.verify(swarm.sign("PUT", "/files/a"), "DELETE", "/files/a") }
    }

    @Test func aRequestSignedForOnePathIsRejectedOnAnother() throws {
        let swarm = try Swarm()
        #expect(throws: AuthError.badSignature) { try swarm.verify(swarm.sign("PUT", "/files/a"), "PUT", "/files/b") }
        #expect(throws: AuthError.badSignature) { try swarm.verify(swarm.sign("PUT", "/files/a"), "PUT", "/files/A") }
        #expect(throws: AuthError.badSignature) { try swarm.verify(swarm.sign("PUT", "/files/a b"), "PUT", "/files/a%20b") }
    }

    @Test func aRequestSignedForAnotherNodeIsRefusedAsWrongTarget() throws {
        let swarm = try Swarm()
        let elsewhere = swarm.sign(for: "node-b.example:4242")
        #expect(throws: AuthError.wrongTarget(target: "node-b.example:4242", names: swarm.node)) { try swarm.verify(elsewhere) }
        // The target is signed: rewriting it to this node's name breaks the signature.
        var rewritten = elsewhere
        rewritten.target = swarm.node
        #expect(throws: AuthError.badSignature) { try swarm.verify(rewritten) }
        // Names compare without case; the refusal did not use up the nonce of a good request.
        let good = swarm.sign(for: "NODE-A.example:4242")
        #expect(good.target == swarm.node)
        try swarm.verify(good)
        #expect(NodeNames(["A:1", "b:2"]).contains("a:1") && !NodeNames(["a:1"]).contains("a:2"))
        #expect(AuthError.wrongTarget(target: "b:1", names: "a:1").description.contains("--alias b:1"))
    }

    @Test func aReplyVerifiesOnlyForItsRequestStatusAndBody() throws {
        let swarm = try Swarm()
        let replies = ReplySigner(swarm: swarm.key)
        let body = Array(#"{"nodes":["127.0.0.1:4242"]}"#.utf8)
        let nonce = String(repeating: "ab", count: 16)
        let signature = replies.sign(
            method: "get", target: swarm.node, pathAndQuery: "/v1/where?path=a", nonce: nonce, status: 200,
            bodySHA256: RequestSignature.sha256Hex(of: body))
        func valid(
            _ signature: String, method: String = "GET", target: String = Swarm.node, path: String = "/v1/where?path=a",
            nonce: String = nonce, status: Int = 200, body: [UInt8] = body
        ) -> Bool {
            replies.isValid(signature, method: method, target: target, pathAndQuery: path, nonce: nonce, status: status, body: body)
        }
        #expect(valid(signature))
        #expect(!valid(signature, body: Array(#"{"nodes":["127.0.0.9:4242"]}"#.utf8)), "another body")
        #expect(!valid(signature, nonce: String(repeating: "cd", count: 16)), "the answer to another request")
        #expect(!valid(signature, status: 201))
        #expect(!valid(signature, method: "POST"))
        #expect(!valid(signature, target: "node-b.example:4242"))
        #expect(!valid(signature, path: "/v1/where?path=b"))
        #expect(!valid(signature.uppercased()) && !valid("") && !valid(String(signature.dropLast())))
        // Another swarm's key, and the request key itself, sign differently.
        #expect(!ReplySigner(swarm: try SwarmKey(password: "another swarm's password")).isValid(
            signature, method: "GET", target: Swarm.node, pathAndQuery: "/v1/where?path=a", nonce: nonce, status: 200, body: body))
        let asRequest = RequestSignature.signature(
            canonicalString: ReplySignature.canonicalString(
                method: "GET", target: Swarm.node, pathAndQuery: "/v1/where?path=a", nonce: nonce, status: 200,
                bodySHA256: RequestSignature.sha256Hex(of: body)),
            key: swarm.key)
        #expect(!valid(asRequest), "the reply key is not the request key")
        // A streamed file: signed for the hash its bytes must have.
        #expect(replies.isValid(
            signature, method: "GET", target: Swarm.node, pathAndQuery: "/v1/where?path=a", nonce: nonce, status: 200,
            bodySHA256: RequestSignature.sha256Hex(of: body)))
    }

    @Test func changingAddingOrRemovingTheQueryFailsWithBadSignature() throws {
        let swarm = try Swarm()
        let signed = swarm.sign("PUT", "/files/a?n=2")
        #expect(throws: AuthError.badSignature) { try swarm.verify(signed, "PUT", "/files/a?n=3") }
        #expect(throws: AuthError.badSignature) { try swarm.verify(signed, "PUT", "/files/a") }
        #expect(throws: AuthError.badSignature) { try swarm.verify(signed, "PUT", "/files/a?n=2&k=1") }
        #expect(throws: AuthError.badSignature) { try swarm.verify(swarm.sign("PUT", "/files/a"), "PUT", "/files/a?n=2") }
        try swarm.verify(signed, "PUT", "/files/a?n=2")
    }

    @Test func aDifferentBodyFailsWithBodyMismatch() throws {
        let swarm = try Swarm()
        #expect(throws: AuthError.bodyMismatch) { try swarm.verify(swarm.sign(body: "hello"), body: "hellO") }
        #expect(throws: AuthError.bodyMismatch) { try swarm.verify(swarm.sign(body: "hello"), body: "") }
    }

    @Test func rewritingTheBodyHashHeaderToMatchANewBodyFailsWithBadSignature() throws {
        let swarm = try Swarm()
        var headers = swarm.sign(body: "hello")
        headers.contentSHA256 = sha("evil")
        #expect(throws: AuthError.badSignature) { try swarm.verify(headers, body: "evil") }
    }

    @Test func changingTheTimestampFailsWithBadSignature() throws {
        let swarm = try Swarm()
        var headers = swarm.sign()
        headers.timestamp = String(Int(headers.timestamp)! + 1)
        #expect(throws: AuthError.badSignature) { try swarm.verify(headers) }
    }

    @Test func changingTheNonceFailsWithBadSignature() throws {
        let swarm = try Swarm()
        var headers = swarm.sign()
        headers.nonce = "0123456789abcdef0123456789abcdef"
        #expect(throws: AuthError.badSignature) { try swarm.verify(headers) }
    }

    @Test func changingTheSignatureFailsWithBadSignature() throws {
        let swarm = try Swarm()
        let genuine = swarm.sign()
        for position in [genuine.signature.startIndex, genuine.signature.index(before: genuine.signature.endIndex)] {
            var headers = genuine
            let flipped: Character = headers.signature[position] == "0" ? "1" : "0"
            headers.signature.replaceSubrange(position...position, with: String(flipped))
            #expect(throws: AuthError.badSignature) { try swarm.verify(headers) }
        }
    }

    @Test func aKeyFromADifferentPasswordFailsWithBadSignature() throws {
        let ours = try Swarm()
        let theirs = try Swarm(password: "correct horse battery stapler")
        #expect(throws: AuthError.badSignature) { try ours.verify(theirs.sign()) }
    }

    @Test func missingOrMalformedHeadersFailBeforeAnythingElse() throws {
        let swarm = try Swarm()
        let good = swarm.sign()
        #expect(throws: AuthError.missingOrMalformed) { try swarm.verify(nil) }

        var variants: [SignedHeaders] = []
        for timestamp in ["", "abc", "-1700000000", "+1700000000", "1700000000.5", " 1700000000", "1e9", "9999999999999999999"] {
            var headers = good
            headers.timestamp = timestamp
            variants.append(headers)
        }
        for nonce in ["", String(good.nonce.dropLast()), good.nonce + "0", good.nonce.uppercased(), "g" + good.nonce.dropFirst()] {
            var headers = good
            headers.nonce = nonce
            variants.append(headers)
        }
        for hash in ["", String(good.contentSHA256.dropLast()), good.contentSHA256.uppercased(), "z" + good.contentSHA256.dropFirst()] {
            var headers = good
            headers.contentSHA256 = hash
            variants.append(headers)
        }
        for signature in ["", String(good.signature.dropLast()), good.signature + "00", good.signature.uppercased()] {
            var headers = good
            headers.signature = signature
            variants.append(headers)
        }
        for headers in variants {
            // Stale as well, to show the format check comes first.
            #expect(throws: AuthError.missingOrMalformed, "\(headers)") { try swarm.verify(headers, at: at(10_000)) }
        }
    }

    // MARK: Freshness

    @Test func aRequestMoreThanTheWindowOldOrAheadIsExpired() throws {
        let swarm = try Swarm()
        #expect(throws: AuthError.expired) { try swarm.verify(swarm.sign(at: t0), at: at(301)) }
        #expect(throws: AuthError.expired) { try swarm.verify(swarm.sign(at: at(301)), at: t0) }
    }

    @Test func aRequestWithinTheWindowEitherWayVerifies() throws {
        let swarm = try Swarm()
        try swarm.verify(swarm.sign(at: t0), at: at(299))
        try swarm.verify(swarm.sign(at: at(299)), at: t0)
        try swarm.verify(swarm.sign(at: t0), at: at(300))
        try swarm.verify(swarm.sign(at: at(-300)), at: t0)
    }

    @Test func theTimestampIsIntegerSecondsRoundedDown() throws {
        let swarm = try Swarm()
        let headers = swarm.sign(at: at(0.999))
        #expect(headers.timestamp == "1700000000")
    }

    @Test func anExpiredRequestIsReportedAsExpiredEvenWhenItsSignatureIsAlsoWrong() throws {
        let swarm = try Swarm()
        var headers = swarm.sign(at: t0)
        headers.nonce = "0123456789abcdef0123456789abcdef"
        #expect(throws: AuthError.expired) { try swarm.verify(headers, at: at(301)) }
    }

    // MARK: Replay

    @Test func aReplayedNonceFailsTheSecondTime() throws {
        let swarm = try Swarm()
        let headers = swarm.sign()
        try swarm.verify(headers)
        #expect(throws: AuthError.replayed) { try swarm.verify(headers) }
        #expect(throws: AuthError.replayed) { try swarm.verify(headers, at: at(250)) }
    }

    @Test func eachSignatureGetsAFreshLowercaseHexNonce() throws {
        let swarm = try Swarm()
        let nonces = (0..<100).map { _ in swarm.sign().nonce }
        #expect(Set(nonces).count == 100)
        for nonce in nonces {
            #expect(nonce.count == 32)
            #expect(nonce.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    @Test func aRequestRejectedForABadSignatureDoesNotBurnItsNonce() throws {
        let swarm = try Swarm()
        let genuine = swarm.sign("PUT", "/files/a")
        #expect(throws: AuthError.badSignature) { try swarm.verify(genuine, "PUT", "/files/b") }
        var forged = genuine
        forged.signature = String(repeating: "0", count: 64)
        #expect(throws: AuthError.badSignature) { try swarm.verify(forged, "PUT", "/files/a") }
        try swarm.verify(genuine, "PUT", "/files/a")
        #expect(swarm.verifier.rememberedNonceCount == 1)
    }

    @Test func aRequestRejectedForABodyMismatchDoesNotBurnItsNonce() throws {
        let swarm = try Swarm()
        let genuine = swarm.sign(body: "hello")
        #expect(throws: AuthError.bodyMismatch) { try swarm.verify(genuine, body: "truncated") }
        try swarm.verify(genuine, body: "hello")
    }

    @Test func theNonceCacheForgetsNoncesOnceTheirRequestsHaveExpired() throws {
        let swarm = try Swarm(maxNonces: 2)
        let first = swarm.sign(at: t0)
        try swarm.verify(first, at: t0)
        try swarm.verify(swarm.sign(at: t0), at: t0)
        #expect(swarm.verifier.rememberedNonceCount == 2)
        #expect(throws: AuthError.replayCacheFull) { try swarm.verify(swarm.sign(at: t0), at: at(300)) }

        // Forgotten within a bucket (a thirtieth of the window, 10 s) after they expired.
        try swarm.verify(swarm.sign(at: at(310)), at: at(310))
        #expect(swarm.verifier.rememberedNonceCount == 1, "both old nonces are forgotten, the new one is remembered")
        // Forgetting is safe: the first request can no longer pass the time check.
        #expect(throws: AuthError.expired) { try swarm.verify(first, at: at(310)) }
    }

    @Test func aNonceIsRememberedAsLongAsItsRequestCouldStillPassTheTimeCheck() throws {
        let swarm = try Swarm()
        let ahead = swarm.sign(at: at(200)) // a client whose clock runs 200 s fast
        let behind = swarm.sign(at: at(-200)) // a client whose clock runs 200 s slow
        try swarm.verify(ahead, at: t0)
        try swarm.verify(behind, at: t0)

        try swarm.verify(swarm.sign(at: at(310)), at: at(310))
        #expect(swarm.verifier.rememberedNonceCount == 2, "`behind` is forgotten, `ahead` is still live")
        #expect(throws: AuthError.replayed) { try swarm.verify(ahead, at: at(310)) }
        #expect(throws: AuthError.expired) { try swarm.verify(behind, at: at(310)) }
    }

    @Test func aFullNonceCacheRefusesNewRequestsRatherThanForgetLiveNonces() throws {
        let swarm = try Swarm(maxNonces: 5)
        var accepted: [SignedHeaders] = []
        var refused = 0
        for second in 0..<10 {
            let headers = swarm.sign(at: at(Double(second)))
            do throws(AuthError) {
                try swarm.verify(headers, at: at(Double(second)))
                accepted.append(headers)
            } catch {
                #expect(error == .replayCacheFull)
                refused += 1
            }
        }
        #expect(accepted.count == 5)
        #expect(refused == 5)
        #expect(swarm.verifier.rememberedNonceCount == 5)
        for headers in accepted {
            #expect(throws: AuthError.replayed) { try swarm.verify(headers, at: at(10)) }
        }
    }

    @Test func nodeReportsUseAReserveThatClientRequestsCannotFill() throws {
        let swarm = try Swarm(maxNonces: 100)
        #expect(swarm.verifier.reservedNonces == 2)
        for index in 0..<100 { try swarm.verify(swarm.sign("PUT", "/files/\(index)"), "PUT", "/files/\(index)") }
        // Clients are refused now; a node's report still goes through, twice, and then no more.
        #expect(throws: AuthError.replayCacheFull) { try swarm.verify(swarm.sign("PUT", "/files/x"), "PUT", "/files/x") }
        for _ in 0..<2 {
            try swarm.verifier.verify(
                method: "PUT", pathAndQuery: "/files/a", headers: swarm.sign(), bodySHA256: sha("hello"), now: t0, reserved: true)
        }
        #expect(throws: AuthError.replayCacheFull) {
            try swarm.verifier.verify(
                method: "PUT", pathAndQuery: "/files/a", headers: swarm.sign(), bodySHA256: sha("hello"), now: t0, reserved: true)
        }
        #expect(swarm.verifier.rememberedNonceCount == 102)
    }

    @Test func aReplayIsRefusedInEveryBucketUntilItsRequestHasExpired() throws {
        let swarm = try Swarm()
        // Accepted at the edge of a bucket; requests keep arriving across the next buckets.
        let edge = at(9.999)
        let first = swarm.sign(at: edge)
        try swarm.verify(first, at: edge)
        for second in stride(from: 10.0, through: 305.0, by: 5) {
            try swarm.verify(swarm.sign("PUT", "/files/\(second)", at: at(second)), "PUT", "/files/\(second)", at: at(second))
            #expect(throws: AuthError.replayed) { try swarm.verify(first, at: at(second)) }
        }
        #expect(throws: AuthError.expired) { try swarm.verify(first, at: at(310.5)) }
    }

    @Test func theNonceCacheHoldsAsManyBucketsAsTheWindowSpansAndNoMore() throws {
        // Three requests a second for 20 minutes: memory follows the window, not the uptime.
        let swarm = try Swarm(maxNonces: 1_000_000)
        for second in 0..<1200 {
            for index in 0..<3 {
                let target = "/files/\(second)/\(index)"
                try swarm.verify(swarm.sign("PUT", target, at: at(Double(second))), "PUT", target, at: at(Double(second)))
            }
            #expect(swarm.verifier.rememberedNonceCount <= 3 * 311, "only the last window's nonces (and one bucket) are kept")
        }
        #expect(swarm.verifier.rememberedNonceCount >= 3 * 300)
    }

    @Test func theDefaultReplayCacheTakesTwentyThousandRequestsASecondForAWholeWindow() throws {
        let key = try SwarmKey(password: password)
        let verifier = RequestVerifier(key: key, names: .any)
        #expect(verifier.maxNonces >= 20_000 * 310)
    }

    // MARK: Interoperability

    /// Computed once with an independent implementation (Python's hashlib.scrypt, hmac, and HKDF
    /// per RFC 5869).
    @Test func theCanonicalStringAndSignatureMatchTheKnownAnswerVector() throws {
        let key = try SwarmKey(password: "correct horse battery staple")
        let bodyHash = sha("hello fsdfs\n")
        #expect(bodyHash == "9498249bb26ccc94e73226ebe57fc3dd4cbe8d22104ac1950780107cda624e56")

        let canonical = RequestSignature.canonicalString(
            method: "put",
            target: "node-a.example:4242",
            pathAndQuery: "/files/videos/a%20b.mp4?replicas=3",
            timestamp: "1700000000",
            nonce: "000102030405060708090a0b0c0d0e0f",
            bodySHA256: bodyHash
        )
        #expect(
            canonical == "PUT\nnode-a.example:4242\n/files/videos/a%20b.mp4?replicas=3\n1700000000\n000102030405060708090a0b0c0d0e0f\n"
                + "9498249bb26ccc94e73226ebe57fc3dd4cbe8d22104ac1950780107cda624e56"
        )
        let signature = RequestSignature.signature(canonicalString: canonical, key: key)
        #expect(signature == "17b7a69831d538e4e75863a75f884a7d3b3e3046e7830d6e027e9b8ac989b6ad")

        let emptyBody = RequestSignature.canonicalString(
            method: "GET", target: "node-a.example:4242", pathAndQuery: "/status", timestamp: "1700000000",
            nonce: "ffeeddccbbaa99887766554433221100", bodySHA256: RequestSignature.emptyBodySHA256
        )
        #expect(
            RequestSignature.signature(canonicalString: emptyBody, key: key)
                == "aa8d2091053343812ad8d9880812a428ba596051c80cddfeffaf1b6fa9691082"
        )

        let verifier = RequestVerifier(key: key, names: NodeNames(["Node-A.example:4242"]))
        let headers = SignedHeaders(
            target: "node-a.example:4242",
            timestamp: "1700000000",
            nonce: "000102030405060708090a0b0c0d0e0f",
            contentSHA256: bodyHash,
            signature: "17b7a69831d538e4e75863a75f884a7d3b3e3046e7830d6e027e9b8ac989b6ad"
        )
        try verifier.verify(
            method: "PUT", pathAndQuery: "/files/videos/a%20b.mp4?replicas=3", headers: headers, bodySHA256: bodyHash, now: t0
        )
    }

    @Test func signedHeadersTravelAsTheFiveNamedHeaders() throws {
        let swarm = try Swarm()
        let headers = swarm.sign()
        let pairs = headers.headerPairs()
        #expect(pairs.map(\.0) == ["X-Fsdfs-Target", "X-Fsdfs-Timestamp", "X-Fsdfs-Nonce", "X-Fsdfs-Content-SHA256", "X-Fsdfs-Signature"])
        let received = Dictionary(uniqueKeysWithValues: pairs.map { ($0.0.lowercased(), $0.1) })
        #expect(SignedHeaders(headerValue: { received[$0.lowercased()] }) == headers)

        let incomplete = received.filter { $0.key != "x-fsdfs-nonce" }
        #expect(SignedHeaders(headerValue: { incomplete[$0.lowercased()] }) == nil)
    }

    // MARK: Constant time

    @Test func constantTimeComparisonComparesEveryByte() {
        let a = Array("0123456789abcdef0123456789abcdef".utf8)
        #expect(RequestSignature.constantTimeEqual(a, a))
        #expect(!RequestSignature.constantTimeEqual(a, Array("0123456789abcdef0123456789abcdee".utf8)), "equal prefix, last byte differs")
        #expect(!RequestSignature.constantTimeEqual(a, Array("1123456789abcdef0123456789abcdef".utf8)), "first byte differs")
        #expect(!RequestSignature.constantTimeEqual(a, a.dropLast()), "a prefix is not equal")
        #expect(!RequestSignature.constantTimeEqual(a.dropLast(), a))
        #expect(RequestSignature.constantTimeEqual([UInt8](), [UInt8]()))
        #expect(!RequestSignature.constantTimeEqual([0x00], [0x80]))
    }

    // MARK: Streamed bodies

    @Test func theStreamedTwoStepAPIAcceptsTheSignedBodyHash() throws {
        let swarm = try Swarm()
        let fileHash = sha("a large file")
        let headers = swarm.signer.sign(method: "PUT", target: swarm.node, pathAndQuery: "/files/big", bodySHA256: fileHash, now: t0)
        let verified = try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: t0)
        #expect(verified.declaredBodySHA256 == fileHash)
        #expect(swarm.verifier.rememberedNonceCount == 0, "nothing is recorded before the body is confirmed")
        try swarm.verifier.complete(verified, actualBodySHA256: fileHash, now: at(5))
        #expect(swarm.verifier.rememberedNonceCount == 1)
    }

    @Test func theStreamedTwoStepAPIRejectsAWrongBodyHashWithoutBurningTheNonce() throws {
        let swarm = try Swarm()
        let fileHash = sha("a large file")
        let headers = swarm.signer.sign(method: "PUT", target: swarm.node, pathAndQuery: "/files/big", bodySHA256: fileHash, now: t0)
        let verified = try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: t0)
        #expect(throws: AuthError.bodyMismatch) {
            try swarm.verifier.complete(verified, actualBodySHA256: sha("a large fil"), now: at(5))
        }
        try swarm.verifier.complete(verified, actualBodySHA256: fileHash.uppercased(), now: at(6))
    }

    @Test func theStreamedHeaderCheckRefusesForgedStaleAndReplayedUploadsBeforeAnyByteIsRead() throws {
        let swarm = try Swarm()
        let fileHash = sha("a large file")
        let headers = swarm.signer.sign(method: "PUT", target: swarm.node, pathAndQuery: "/files/big", bodySHA256: fileHash, now: t0)
        #expect(throws: AuthError.missingOrMalformed) {
            try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: nil, now: t0)
        }
        #expect(throws: AuthError.badSignature) {
            try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/other", headers: headers, now: t0)
        }
        #expect(throws: AuthError.expired) {
            try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: at(301))
        }
        let verified = try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: t0)
        try swarm.verifier.complete(verified, actualBodySHA256: fileHash, now: t0)
        #expect(throws: AuthError.replayed) {
            try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: at(1))
        }
    }

    @Test func ofTwoCopiesOfOneUploadStreamingAtOnceOnlyTheFirstToCompleteIsAccepted() throws {
        let swarm = try Swarm()
        let fileHash = sha("a large file")
        let headers = swarm.signer.sign(method: "PUT", target: swarm.node, pathAndQuery: "/files/big", bodySHA256: fileHash, now: t0)
        let original = try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: t0)
        let copy = try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: at(1))
        try swarm.verifier.complete(original, actualBodySHA256: fileHash, now: at(400))
        #expect(throws: AuthError.replayed) { try swarm.verifier.complete(copy, actualBodySHA256: fileHash, now: at(600)) }
    }

    @Test func anUploadThatStreamsLongerThanTheWindowStillCompletes() throws {
        let swarm = try Swarm()
        let fileHash = sha("a large file")
        let headers = swarm.signer.sign(method: "PUT", target: swarm.node, pathAndQuery: "/files/big", bodySHA256: fileHash, now: t0)
        let verified = try swarm.verifier.verifyHeaders(method: "PUT", pathAndQuery: "/files/big", headers: headers, now: t0)
        try swarm.verifier.complete(verified, actualBodySHA256: fileHash, now: at(3600))
    }

    // MARK: Keys

    @Test func theSamePasswordDerivesTheSameKeyAndDifferentPasswordsDifferentKeys() throws {
        #expect(try SwarmKey(password: password) == SwarmKey(password: password))
        #expect(try SwarmKey(password: password) != SwarmKey(password: password + "!"))
        #expect(try SwarmKey(password: "1234567890123456") != SwarmKey(password: "1234567890123457"))
    }

    @Test func theKeyNeverPrintsItself() throws {
        let key = try SwarmKey(password: password)
        #expect(String(describing: key) == "SwarmKey(redacted)")
        #expect(!String(reflecting: key).contains(password))
    }

    @Test func anEmptyPasswordIsRejectedWithAHelpfulMessage() {
        #expect(throws: SwarmKeyError.empty) { try SwarmKey(password: "") }
        #expect(SwarmKeyError.empty.description.contains("empty"))
        #expect(SwarmKeyError.empty.description.contains("FSDFS_SECRET"))
    }

    @Test func aPasswordShorterThanSixteenBytesIsRejectedWithAHelpfulMessage() throws {
        #expect(throws: SwarmKeyError.tooShort(byteCount: 15, minimum: 16)) { try SwarmKey(password: "123456789012345") }
        #expect(throws: SwarmKeyError.tooShort(byteCount: 14, minimum: 16)) { try SwarmKey(password: "ééééééé") }
        #expect(SwarmKeyError.tooShort(byteCount: 15, minimum: 16).description.contains("at least 16 bytes"))
        _ = try SwarmKey(password: "1234567890123456")
        _ = try SwarmKey(password: "éééééééé")
    }

    // MARK: Errors

    @Test func everyAuthErrorIsA401WithADistinctCodeAndAOneLineMessage() {
        let all: [AuthError] = [.missingOrMalformed, .expired, .badSignature, .bodyMismatch, .replayed, .replayCacheFull, .signedBeforeStart, .wrongTarget(target: "b:1", names: "a:1")]
        #expect(Set(all.map(\.code)).count == all.count)
        #expect(AuthError.missingOrMalformed.code == "unauthorized")
        #expect(AuthError.expired.code == "expired")
        #expect(AuthError.replayed.code == "replayed")
        for error in all {
            #expect(error.httpStatus == 401)
            #expect(!error.description.isEmpty)
            #expect(!error.description.contains("\n"))
        }
        #expect(AuthError.badSignature.description.contains("same swarm secret"))
    }

    // MARK: Concurrency

    @Test func eightTasksVerifyingRequestsWithDistinctNoncesAtOnceAllPass() async throws {
        let swarm = try Swarm()
        let requests = (0..<8).map { swarm.sign("PUT", "/files/\($0)", body: "body \($0)") }
        let verifier = swarm.verifier
        let passed = await withTaskGroup(of: Bool.self) { group in
            for (index, headers) in requests.enumerated() {
                group.addTask {
                    do {
                        try verifier.verify(
                            method: "PUT", pathAndQuery: "/files/\(index)", headers: headers, bodySHA256: sha("body \(index)"), now: t0
                        )
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: 0) { count, ok in count += ok ? 1 : 0 }
        }
        #expect(passed == 8)
        #expect(verifier.rememberedNonceCount == 8)
    }

    @Test func theSameNonceSubmittedFromEightTasksAtOncePassesExactlyOnce() async throws {
        let swarm = try Swarm()
        let headers = swarm.sign()
        let verifier = swarm.verifier
        let outcomes = await withTaskGroup(of: AuthError?.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do throws(AuthError) {
                        try verifier.verify(method: "PUT", pathAndQuery: "/files/a", headers: headers, bodySHA256: sha("hello"), now: t0)
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            return await group.reduce(into: [AuthError?]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 1)
        #expect(outcomes.filter { $0 == .replayed }.count == 7)
    }
}
