import Foundation
import NIOCore
import ReplicaCore
import Testing
import Transport

@Suite("Framed file streams")
struct BlobFrameTests {
    private func path(_ raw: String) -> VirtualPath { try! VirtualPath(raw) }

    private func stream(_ frames: [(BlobFrame, String?)]) throws -> ByteBuffer {
        var out = ByteBuffer()
        for (frame, body) in frames {
            var encoded = try frame.encoded(body: body.map { ByteBuffer(string: $0) })
            out.writeBuffer(&encoded)
        }
        return out
    }

    @Test("Files and error frames come out in order, whatever the chunking")
    func decodesAcrossChunks() throws {
        let bytes = try stream([
            (BlobFrame(path: path("a/1"), fileID: FileID(1), size: 5, sha256: "x"), "hello"),
            (BlobFrame(path: path("a/2"), error: "corrupt", code: "source_corrupt"), nil),
            (BlobFrame(path: path("a/3"), fileID: FileID(3), size: 0, sha256: "y"), ""),
        ])
        for chunkSize in [1, 3, 7, bytes.readableBytes] {
            var decoder = BlobFrameDecoder(expecting: [
                .init(path: path("a/1"), size: 5), .init(path: path("a/2"), size: 9), .init(path: path("a/3"), size: 0),
            ])
            var got: [(BlobFrame, ByteBuffer?)] = []
            var rest = bytes
            while rest.readableBytes > 0 {
                got += try decoder.feed(rest.readSlice(length: min(chunkSize, rest.readableBytes))!)
            }
            try decoder.finish()
            #expect(got.map(\.0.path.rawValue) == ["a/1", "a/2", "a/3"])
            #expect(got[0].1.map { String(buffer: $0) } == "hello")
            #expect(got[1].1 == nil && got[1].0.code == "source_corrupt")
            #expect(got[2].1?.readableBytes == 0)
        }
    }

    @Test("A stream cut inside a frame, or before the last file, is refused")
    func truncatedStream() throws {
        let bytes = try stream([(BlobFrame(path: path("f"), fileID: nil, size: 5, sha256: "x"), "hello")])
        for cut in [2, 6, bytes.readableBytes - 1] {
            var decoder = BlobFrameDecoder(expecting: [.init(path: path("f"), size: 5)])
            #expect(try decoder.feed(bytes.getSlice(at: 0, length: cut)!).isEmpty)
            #expect(throws: BlobFrameError.truncated(afterFiles: 0)) { try decoder.finish() }
        }
        var decoder = BlobFrameDecoder(expecting: [.init(path: path("f"), size: 5), .init(path: path("g"), size: 5)])
        #expect(try decoder.feed(bytes).count == 1)
        #expect(throws: BlobFrameError.truncated(afterFiles: 1)) { try decoder.finish() }
    }

    @Test("An oversize header is refused before it is read")
    func oversizeHeader() throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(BlobFrame.maxHeaderBytes + 1), endianness: .big)
        var decoder = BlobFrameDecoder(expecting: [.init(path: path("f"), size: 5)])
        #expect(throws: BlobFrameError.oversizeHeader(BlobFrame.maxHeaderBytes + 1)) { _ = try decoder.feed(buffer) }
    }

    @Test("A header naming a path outside the data directory, or another file, or more bytes than asked, is refused")
    func unsafeOrUnexpectedHeaders() throws {
        func frame(_ json: String) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt32(json.utf8.count), endianness: .big)
            buffer.writeString(json)
            return buffer
        }
        for traversal in [#"{"path":"../etc/passwd","size":1,"sha256":"x"}"#, #"{"path":"/abs","size":1,"sha256":"x"}"#,
                          #"{"path":"a/../../b","size":1,"sha256":"x"}"#] {
            var decoder = BlobFrameDecoder(expecting: [.init(path: path("a"), size: 5)])
            #expect {
                _ = try decoder.feed(frame(traversal))
            } throws: { error in
                if case BlobFrameError.malformedHeader = error { return true }
                return false
            }
        }
        var decoder = BlobFrameDecoder(expecting: [.init(path: path("a"), size: 5)])
        #expect {
            _ = try decoder.feed(frame(#"{"path":"b","size":1,"sha256":"x"}"#))
        } throws: { error in
            if case BlobFrameError.unexpectedFile = error { return true }
            return false
        }
        decoder = BlobFrameDecoder(expecting: [.init(path: path("a"), size: 5)])
        #expect(throws: BlobFrameError.oversizeFile(path: "a", size: 6)) {
            _ = try decoder.feed(frame(#"{"path":"a","size":6,"sha256":"x"}"#))
        }
        decoder = BlobFrameDecoder(expecting: [])
        #expect {
            _ = try decoder.feed(frame(#"{"path":"a","size":1,"sha256":"x"}"#))
        } throws: { error in
            if case BlobFrameError.unexpectedFile = error { return true }
            return false
        }
    }
}
