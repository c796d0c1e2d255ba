import Foundation
import Testing
import ReplicaCore

@Suite("VirtualPath")
struct VirtualPathTests {
    /// 1024 bytes: ten 99-byte directories, each followed by '/', and a 24-byte file name.
    static let longestPath = Array(repeating: String(repeating: "d", count: 99), count: 10)
        .joined(separator: "/") + "/" + String(repeating: "f", count: 24)

    @Test(arguments: [
        "a", "a/b.txt", ".hidden", "a/.fsdfs/x", "vidéos/日本語/ファイル.mp4", "emoji/🎉.png",
        "with space/and-dash_under.score", longestPath,
    ])
    func acceptsRelativePathsOfSafeSegments(_ string: String) throws {
        let path = try VirtualPath(string)
        #expect(path.rawValue == string)
        #expect(path.description == string)
    }

    @Test func theLongestPathIsExactlyTheLimit() throws {
        #expect(Self.longestPath.utf8.count == VirtualPath.maxBytes)
        #expect(throws: VirtualPathError.tooLong(bytes: 1025)) { try VirtualPath(Self.longestPath + "f") }
    }

    @Test(arguments: [
        ("", VirtualPathError.empty),
        ("/etc/passwd", .absolute),
        ("../x", .parentSegment),
        ("a/../b", .parentSegment),
        ("a/..", .parentSegment),
        ("a/./b", .dotSegment),
        ("a//b", .emptySegment),
        ("a/", .trailingSlash),
        ("a\u{0}b", .nulCharacter),
        ("a\u{1}b", .controlCharacter(1)),
        ("tab\there", .controlCharacter(9)),
        ("del\u{7F}", .controlCharacter(0x7F)),
        ("a\\b", .backslash),
        (".fsdfs/x", .reserved),
        (".fsdfs", .reserved),
    ])
    func rejectsUnsafePathsWithAReason(string: String, expected: VirtualPathError) {
        #expect(throws: expected) { try VirtualPath(string) }
        #expect(!expected.description.isEmpty && !expected.description.contains("\n"))
    }

    @Test func validatesBytesAsUTF8First() throws {
        #expect(throws: VirtualPathError.invalidUTF8) { try VirtualPath(bytes: [0x61, 0xFF, 0x62]) }
        #expect(throws: VirtualPathError.invalidUTF8) { try VirtualPath(bytes: [0xC3]) }
        #expect(try VirtualPath(bytes: Array("vidéos/a.mp4".utf8)).rawValue == "vidéos/a.mp4")
        #expect(throws: VirtualPathError.parentSegment) { try VirtualPath(bytes: Array("../x".utf8)) }
    }

    @Test func exposesSegmentsAndName() throws {
        let path = try VirtualPath("videos/2024/trip.mp4")
        #expect(path.segments == ["videos", "2024", "trip.mp4"])
        #expect(path.name == "trip.mp4")
        #expect(try VirtualPath("a").name == "a")
    }

    @Test func sortsByString() throws {
        let paths = try ["b", "a/z", "a"].map { try VirtualPath($0) }
        #expect(paths.sorted().map(\.rawValue) == ["a", "a/z", "b"])
    }

    @Test func roundTripsThroughJSONAsAPlainString() throws {
        let path = try VirtualPath("a/b.txt")
        let data = try JSONEncoder().encode([path])
        #expect(String(decoding: data, as: UTF8.self) == #"["a\/b.txt"]"# || String(decoding: data, as: UTF8.self) == #"["a/b.txt"]"#)
        #expect(try JSONDecoder().decode([VirtualPath].self, from: data) == [path])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([VirtualPath].self, from: Data(#"["../x"]"#.utf8)) }
    }

    /// A `/` followed by a combining mark is one Swift character, but the file system sees
    /// the byte `/`: these paths would escape the data directory if checked on characters.
    @Test(arguments: ["../\u{301}x", "/\u{301}etc/passwd"])
    func rejectsTraversalHiddenBehindACombiningMark(_ string: String) {
        #expect(throws: VirtualPathError.self) { try VirtualPath(string) }
    }
}

@Suite("ByteSize")
struct ByteSizeTests {
    @Test(arguments: [
        ("10", Int64(10)),
        ("0", 0),
        ("512K", 524_288),
        ("1k", 1024),
        ("10G", 10_737_418_240),
        ("1T", 1_099_511_627_776),
        ("1P", 1_125_899_906_842_624),
        ("10GiB", 10_737_418_240),
        ("5MB", 5_242_880),
        ("5mb", 5_242_880),
        (" 7 ", 7),
    ])
    func parsesWholeNumbersWithPowerOf1024Units(text: String, bytes: Int64) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(arguments: [
        ("", ByteSizeError.empty),
        ("   ", .empty),
        ("10X", .unknownUnit("10X", "X")),
        ("-1", .invalid("-1")),
        ("1.5G", .invalid("1.5G")),
        ("G", .invalid("G")),
        ("10 G", .invalid("10 G")),
        ("99999999999T", .tooLarge("99999999999T")),
        ("8192P", .tooLarge("8192P")),
        ("99999999999999999999", .tooLarge("99999999999999999999")),
    ])
    func rejectsWhatIsNotAWholeSize(text: String, expected: ByteSizeError) {
        #expect(throws: expected) { try ByteSize.parse(text) }
    }

    @Test func rejectsWordsAndSaysWhatASizeLooksLike() {
        #expect(throws: ByteSizeError.self) { try ByteSize.parse("abc") }
        #expect(ByteSizeError.invalid("1.5G").description.contains("512K or 10G"))
        #expect(ByteSizeError.unknownUnit("10X", "X").description.contains("K, M, G, T or P"))
    }

    @Test(arguments: [
        (Int64(0), "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (10_737_418_240, "10.0 GiB"),
        (1_099_511_627_776, "1.0 TiB"),
        (1_125_899_906_842_624, "1.0 PiB"),
    ])
    func formatsSizesForPeople(bytes: Int64, text: String) {
        #expect(ByteSize.format(bytes) == text)
    }

    /// A size just under 1 MiB rounds to the next unit, not to "1024.0 KiB".
    @Test func formatsJustUnderAUnitAsTheNextUnit() {
        #expect(ByteSize.format(1_048_575) == "1.0 MiB")
    }

    @Test("Sizes with non-ASCII letters are rejected, not a crash", arguments: ["10ß", "1ﬀ", "５G"])
    func rejectsNonASCIISizes(_ text: String) {
        #expect(throws: ByteSizeError.self) { try ByteSize.parse(text) }
    }

    @Test("Composed and decomposed spellings are different paths, as they are different files")
    func pathsCompareByBytes() throws {
        let composed = try VirtualPath("caf\u{E9}")
        let decomposed = try VirtualPath("cafe\u{301}")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
    }

    @Test("A name longer than 255 bytes is rejected")
    func rejectsLongSegment() throws {
        #expect(throws: VirtualPathError.segmentTooLong(bytes: 256)) { try VirtualPath("a/" + String(repeating: "x", count: 256)) }
        _ = try VirtualPath("a/" + String(repeating: "x", count: 255))
    }
}

@Suite("UploadRequest")
struct UploadRequestTests {
    @Test("exclude is optional on the wire: old clients' requests decode, and new ones without it encode as before")
    func excludeIsAdditive() throws {
        let old = try JSONDecoder().decode(UploadRequest.self, from: Data(#"{"path":"a/b","size":3}"#.utf8))
        #expect(old == UploadRequest(path: try VirtualPath("a/b"), size: 3))
        #expect(old.exclude == nil)
        let plain = try JSONSerialization.jsonObject(with: JSONEncoder().encode(old)) as? [String: Any]
        #expect(plain?.keys.sorted() == ["path", "size"])
        let retry = UploadRequest(path: try VirtualPath("a/b"), size: 3, exclude: ["n1"])
        #expect(try JSONDecoder().decode(UploadRequest.self, from: JSONEncoder().encode(retry)) == retry)
    }
}
