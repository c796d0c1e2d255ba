import Testing
import ReplicaCore

/// Whether `pattern` matches `path`; both must be valid.
private func glob(_ pattern: String, matches path: String) throws -> Bool {
    try Glob(pattern).matches(VirtualPath(path))
}

@Suite("Glob")
struct GlobTests {
    @Test func starMatchesAnyRunOfCharactersButStaysInsideOneSegment() throws {
        #expect(try glob("*.txt", matches: "a.txt"))
        #expect(try glob("*.txt", matches: ".txt"))
        #expect(try glob("*", matches: ".hidden"))
        #expect(try glob("a*b*c", matches: "abc"))
        #expect(try glob("a*b*c", matches: "aXXbYYc"))
        #expect(try glob("a/*", matches: "a/b"))
        #expect(try !glob("a*b*c", matches: "aXXbYY"))
        #expect(try !glob("*.txt", matches: "dir/a.txt"))
        #expect(try !glob("a/*", matches: "a/b/c"))
        #expect(try !glob("a/*", matches: "a"))
        #expect(try !glob("a*", matches: "a/b"))
    }

    @Test func doubleStarCrossesDirectoriesIncludingZeroSegments() throws {
        #expect(try glob("videos/**", matches: "videos/a"))
        #expect(try glob("videos/**", matches: "videos/a/b.mp4"))
        #expect(try glob("videos/**", matches: "videos"), "zero segments: a file named exactly 'videos'")
        #expect(try !glob("videos/**", matches: "videosx/a"))
        #expect(try !glob("videos/**", matches: "other/videos/a"))

        #expect(try glob("**/*.db", matches: "x.db"))
        #expect(try glob("**/*.db", matches: "a/b/x.db"))
        #expect(try !glob("**/*.db", matches: "a/x.dbx"))

        #expect(try glob("a/**/b", matches: "a/b"))
        #expect(try glob("a/**/b", matches: "a/x/b"))
        #expect(try glob("a/**/b", matches: "a/x/y/b"))
        #expect(try !glob("a/**/b", matches: "a/x/y/c"))
        #expect(try glob("a/**/**/b", matches: "a/b"))

        #expect(try glob("**", matches: "x"))
        #expect(try glob("**", matches: "a/b/c"))
        #expect(try glob("**/cache/**", matches: "cache"))
        #expect(try glob("**/cache/**", matches: "a/b/cache/c/d"))
        #expect(try !glob("**/cache/**", matches: "a/b/cached/c"))
    }

    @Test func questionMarkMatchesExactlyOneCharacterInsideASegment() throws {
        #expect(try glob("?.txt", matches: "a.txt"))
        #expect(try !glob("?.txt", matches: "ab.txt"))
        #expect(try !glob("?.txt", matches: ".txt"))
        #expect(try !glob("a?b", matches: "a/b"))
        #expect(try glob("?", matches: "é"), "one character even when it is two bytes of UTF-8")
        #expect(try glob("?", matches: "e\u{301}"), "a base letter and its combining accent are one character")
        #expect(try !glob("??", matches: "é"))
        #expect(try glob("a/??/c", matches: "a/bb/c"))
    }

    @Test func characterClassesMatchOneCharacterFromOrOutsideTheClass() throws {
        #expect(try glob("[abc].txt", matches: "b.txt"))
        #expect(try !glob("[abc].txt", matches: "d.txt"))
        #expect(try glob("[a-z]*", matches: "report"))
        #expect(try !glob("[a-z]*", matches: "Report"))
        #expect(try glob("[!a]*", matches: "b"))
        #expect(try !glob("[!a]*", matches: "abc"))
        #expect(try glob("[^a]", matches: "z"))
        #expect(try glob("img[0-9][0-9].png", matches: "img42.png"))
        #expect(try !glob("img[0-9][0-9].png", matches: "img4x.png"))
        #expect(try glob("[-x]", matches: "-"), "a leading '-' is literal")
        #expect(try glob("[a-]", matches: "-"), "a trailing '-' is literal")
        #expect(try glob("[\\]]", matches: "]"), "an escaped ']' is a member")
        #expect(try glob("*.[mM][pP]4", matches: "clip.MP4"))
    }

    @Test func backslashMakesTheNextCharacterLiteral() throws {
        #expect(try glob("notes\\*.txt", matches: "notes*.txt"))
        #expect(try !glob("notes\\*.txt", matches: "notesX.txt"))
        #expect(try glob("what\\?", matches: "what?"))
        #expect(try !glob("what\\?", matches: "whats"))
        #expect(try glob("\\[draft\\] *", matches: "[draft] plan"))
    }

    @Test func literalPatternsMatchOnlyTheSamePathCaseSensitively() throws {
        #expect(try glob("a/b.txt", matches: "a/b.txt"))
        #expect(try !glob("a/b.txt", matches: "A/b.txt"))
        #expect(try !glob("a/b.txt", matches: "a/b.txt2"))
        #expect(try !glob("a/b.txt", matches: "a"))
        #expect(try glob("photos/été/*.jpg", matches: "photos/e\u{301}te\u{301}/x.jpg"), "canonically equal names match")
    }

    @Test func aSlashFollowedByACombiningMarkStillSeparatesSegments() throws {
        // The file system splits on the byte '/', whatever follows it; so does the glob.
        #expect(try glob("a/*", matches: "a/\u{301}b"))
        #expect(try !glob("*", matches: "a/\u{301}b"))
    }

    @Test(arguments: [
        ("", GlobError.empty),
        ("/etc/*", .absolute(pattern: "/etc/*")),
        ("a//b", .emptySegment(pattern: "a//b")),
        ("videos/", .trailingSlash(pattern: "videos/")),
        ("a**", .doubleStarInSegment(pattern: "a**", segment: "a**")),
        ("**b", .doubleStarInSegment(pattern: "**b", segment: "**b")),
        ("x/a**/y", .doubleStarInSegment(pattern: "x/a**/y", segment: "a**")),
        ("***", .doubleStarInSegment(pattern: "***", segment: "***")),
        ("a[bc", .unclosedBracket(pattern: "a[bc", segment: "a[bc")),
        ("[", .unclosedBracket(pattern: "[", segment: "[")),
        ("x/[ab/c]", .unclosedBracket(pattern: "x/[ab/c]", segment: "[ab")),
        ("a[]", .emptyClass(pattern: "a[]", segment: "a[]")),
        ("[!]", .emptyClass(pattern: "[!]", segment: "[!]")),
        ("[z-a]", .reversedRange(pattern: "[z-a]", range: "z-a")),
        ("a\\", .trailingBackslash(pattern: "a\\")),
        ("a/../b", .dotSegment(pattern: "a/../b", segment: "..")),
        ("./a", .dotSegment(pattern: "./a", segment: ".")),
    ])
    func rejectsMalformedPatternsWithAOneLineReason(pattern: String, expected: GlobError) {
        #expect(throws: expected) { try Glob(pattern) }
        #expect(!expected.description.contains("\n"))
        if !pattern.isEmpty {
            #expect(expected.description.contains("'\(pattern)'"), "the message quotes the pattern")
        }
    }

    @Test func rejectionMessagesSayHowToFixThePattern() {
        #expect(GlobError.doubleStarInSegment(pattern: "a**", segment: "a**").description.contains("whole segment"))
        #expect(GlobError.trailingSlash(pattern: "videos/").description.contains("videos/**"))
        #expect(GlobError.empty.description.contains("'**'"))
    }

    @Test func pathologicalPatternsFinishWithoutCatastrophicBacktracking() throws {
        let longName = String(repeating: "a", count: 255)
        #expect(try !glob("*a*a*a*a*a*a*a*a*a*a*a*a*b", matches: longName))
        #expect(try glob("*a*a*a*a*a*a*a*a*a*a*a*a*", matches: longName))
        #expect(try !glob("a*a*a*a*a*a*a*a*a*a*a*a*a*?b", matches: longName))

        let deepPath = Array(repeating: "a", count: 500).joined(separator: "/")
        #expect(try !glob("**/a/**/a/**/a/**/a/**/a/**/a/**/b", matches: deepPath))
        #expect(try glob("**/a/**/a/**/a/**/a/**/a/**/a/**", matches: deepPath))
        #expect(try !glob("**/*a*a*a*a*b/**/a", matches: deepPath))
    }

    @Test func describesItselfAsItsPatternAndComparesByPattern() throws {
        let glob = try Glob("videos/**/*.mp4")
        #expect(glob.description == "videos/**/*.mp4")
        #expect(glob.pattern == "videos/**/*.mp4")
        #expect(try glob == Glob("videos/**/*.mp4"))
        #expect(try glob != Glob("videos/**/*.mkv"))
        #expect(try Set([glob, Glob("videos/**/*.mp4")]).count == 1)
    }
}
