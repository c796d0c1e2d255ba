import Foundation
import Testing
import ReplicaCore

// MARK: Helpers

private func path(_ string: String) throws -> VirtualPath { try VirtualPath(string) }

private func policy(_ toml: String, fileName: String = "test.toml") throws -> PolicySet {
    try PolicySet(files: [PolicySet.parse(toml, fileName: fileName)])
}

/// The error `parse` throws for `toml`, or `nil` when it accepts it.
private func rejection(_ toml: String, fileName: String = "bad.toml") -> PolicyError? {
    do throws(PolicyError) {
        _ = try PolicySet.parse(toml, fileName: fileName)
        return nil
    } catch {
        return error
    }
}

/// A fresh directory under the system temporary directory, removed by `body`'s end.
private func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("fsdfs-policy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

private func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

private func load(_ directory: String) -> Result<PolicySet, PolicyError> {
    Result { () throws(PolicyError) in try PolicySet.load(directory: directory) }
}

private let GiB: Int64 = 1 << 30
private let MiB: Int64 = 1 << 20

// MARK: Deciding N

@Suite("Policy decisions")
struct PolicyDecisionTests {
    static let layered = """
        [[rule]]
        match = "videos/raw/**"
        n = 4

        [[rule]]
        match = "videos/**"
        n = 2

        [[rule]]
        match = "**/*.db"
        n = 5
        """

    @Test func theFirstMatchingRuleWinsInFileOrder() throws {
        let set = try policy(Self.layered)
        #expect(try set.replicas(for: path("videos/raw/take1.mov"), size: 10) == 4)
        #expect(try set.replicas(for: path("videos/trip.mp4"), size: 10) == 2)
        #expect(try set.replicas(for: path("videos/index.db"), size: 10) == 2, "videos/** comes before **/*.db")
        #expect(try set.replicas(for: path("app/data.db"), size: 10) == 5)
        #expect(try set.replicas(for: path("notes.txt"), size: 10) == PolicySet.builtinDefaultN)
        #expect(try set.rule(for: path("videos/trip.mp4"), size: 10)?.source == PolicySource(file: "test.toml", line: 5))
    }

    @Test func sizeBoundsIncludeBothEnds() throws {
        let set = try policy("""
            [[rule]]
            match = "**/*.db"
            min_size = "1M"
            max_size = "10M"
            n = 5
            """)
        let db = try path("a/x.db")
        #expect(set.replicas(for: db, size: MiB - 1) == 3)
        #expect(set.replicas(for: db, size: MiB) == 5)
        #expect(set.replicas(for: db, size: 10 * MiB) == 5)
        #expect(set.replicas(for: db, size: 10 * MiB + 1) == 3)
    }

    @Test func sizeBoundsAcceptWholeBytesAndEachBoundAlone() throws {
        let set = try policy("""
            [[rule]]
            match = "small/**"
            max_size = 4096
            n = 1
            [[rule]]
            match = "big/**"
            min_size = "1G"
            n = 4
            [[rule]]
            match = "exact"
            min_size = 0
            max_size = 0
            n = 7
            """)
        #expect(try set.replicas(for: path("small/a"), size: 4096) == 1)
        #expect(try set.replicas(for: path("small/a"), size: 4097) == 3)
        #expect(try set.replicas(for: path("big/a"), size: GiB) == 4)
        #expect(try set.replicas(for: path("big/a"), size: GiB - 1) == 3)
        #expect(try set.replicas(for: path("exact"), size: 0) == 7)
        #expect(set.rules.map(\.minSize) == [nil, GiB, 0])
        #expect(set.rules.map(\.maxSize) == [4096, nil, 0])
    }

    @Test func aRuleMatchesOnlyWhenPathAndSizeBothDo() throws {
        let rule = try PolicyRule(
            glob: Glob("**/*.iso"), minSize: GiB, n: 1, source: PolicySource(file: "x.toml", line: 1)
        )
        #expect(try rule.matches(path: path("nightly/a.iso"), size: 2 * GiB))
        #expect(try !rule.matches(path: path("nightly/a.iso"), size: 1))
        #expect(try !rule.matches(path: path("nightly/a.img"), size: 2 * GiB))
    }

    @Test func theFileDefaultAppliesWhenNoRuleMatches() throws {
        let set = try policy(Self.layered + "\n[default]\nn = 1\n")
        #expect(set.defaultN == 1)
        #expect(set.defaultSource == PolicySource(file: "test.toml", line: 12))
        #expect(try set.replicas(for: path("notes.txt"), size: 10) == 1)
        #expect(try set.replicas(for: path("videos/a"), size: 10) == 2)
    }

    @Test func withoutAnyDefaultTheBuiltinNIsThree() throws {
        #expect(PolicySet.builtinDefaultN == 3)
        #expect(PolicySet.builtin.rules.isEmpty)
        #expect(try PolicySet.builtin.replicas(for: path("anything/at/all"), size: 1 << 40) == 3)
        #expect(try policy(Self.layered).defaultSource == nil)
    }

    @Test func anEmptyOrCommentOnlyFileIsValidAndHasNoRules() throws {
        #expect(try PolicySet.parse("", fileName: "empty.toml") == PolicyFile(fileName: "empty.toml"))
        #expect(try PolicySet.parse("# nothing yet\n\n", fileName: "c.toml").rules.isEmpty)
        #expect(try policy("") == PolicySet.builtin)
    }

    @Test func filesCombineInTheGivenOrder() throws {
        let first = try PolicySet.parse("[[rule]]\nmatch = \"a/**\"\nn = 1\n", fileName: "1.toml")
        let second = try PolicySet.parse("[[rule]]\nmatch = \"**\"\nn = 2\n[default]\nn = 5\n", fileName: "2.toml")
        let set = try PolicySet(files: [first, second])
        #expect(set.rules.map(\.source.file) == ["1.toml", "2.toml"])
        #expect(try set.replicas(for: path("a/x"), size: 1) == 1)
        #expect(try set.replicas(for: path("b/x"), size: 1) == 2)
        #expect(set.defaultN == 5)
    }

    @Test func explainSaysWhichRuleOrDefaultDecided() throws {
        let set = try policy(Self.layered + "\n[default]\nn = 1\n", fileName: "policies/media.toml")
        let byRule = try set.explain(path: path("videos/trip.mp4"), size: 12 * MiB)
        #expect(byRule.contains("videos/trip.mp4"))
        #expect(byRule.contains("12.0 MiB"))
        #expect(byRule.contains("n = 2"))
        #expect(byRule.contains("policies/media.toml:5"))
        #expect(byRule.contains("videos/**"))

        let byDefault = try set.explain(path: path("notes.txt"), size: 10)
        #expect(byDefault.contains("n = 1"))
        #expect(byDefault.contains("[default] at policies/media.toml:12"))
        #expect(byDefault.contains("none of the 3 rules matched"))

        let builtin = try PolicySet.builtin.explain(path: path("notes.txt"), size: 10)
        #expect(builtin.contains("n = 3"))
        #expect(builtin.contains("built-in default"))
    }

    @Test func explainShowsSizeBoundsOfTheDecidingRule() throws {
        let set = try policy("[[rule]]\nmatch = \"**/*.db\"\nmin_size = \"1M\"\nn = 5\n", fileName: "db.toml")
        let text = try set.explain(path: path("x.db"), size: 2 * MiB)
        #expect(text.contains("min_size = 1.0 MiB"))
        #expect(text.contains("db.toml:1"))
    }
}

// MARK: Rejections

@Suite("Policy file rejections")
struct PolicyRejectionTests {
    /// A policy text that must be rejected, the line the error must name, and words the
    /// reason must contain.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var toml: String
        var line: Int?
        var reason: [String]

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "TOML syntax error",
            toml: "[[rule]]\nmatch = \"a/**\"\nn = = 2\n",
            line: 3, reason: ["invalid TOML"]
        ),
        Case(
            name: "unterminated string",
            toml: "# header\n[[rule]]\nmatch = \"a/**\nn = 2\n",
            line: 3, reason: ["invalid TOML"]
        ),
        Case(
            name: "unknown top-level key",
            toml: "# replicas\n\nreplicas = 2\n",
            line: 3, reason: ["unknown top-level key 'replicas'", "[[rule]]", "[default]"]
        ),
        Case(
            name: "a rule key written before any [[rule]] header",
            toml: "match = \"a/**\"\nn = 2\n",
            line: 1, reason: ["unknown top-level key 'match'"]
        ),
        Case(
            name: "unknown top-level table with a suggestion",
            toml: "[[rule]]\nmatch = \"a/**\"\nn = 1\n\n[rules]\nn = 2\n",
            line: 5, reason: ["unknown top-level key 'rules'", "did you mean 'rule'"]
        ),
        Case(
            name: "misspelt [defualt]",
            toml: "[defualt]\nn = 2\n",
            line: 1, reason: ["unknown top-level key 'defualt'", "did you mean 'default'"]
        ),
        Case(
            name: "typo 'mtach' in the second rule",
            toml: "[[rule]]\nmatch = \"a/**\"\nn = 2\n\n[[rule]]\nmtach = \"b/**\"\nn = 1\n",
            line: 6,
            reason: ["unknown key 'mtach' in rule 2; expected match, n, min_size, max_size", "did you mean 'match'"]
        ),
        Case(
            name: "unknown key in a rule sub-table",
            toml: "[[rule]]\nmatch = \"a/**\"\nn = 2\n[rule.extra]\nx = 1\n",
            line: 4, reason: ["unknown key 'extra' in rule 1"]
        ),
        Case(
            name: "unknown key in [default]",
            toml: "[default]\nn = 3\nreplicas = 4\n",
            line: 3, reason: ["unknown key 'replicas' in [default]; expected n"]
        ),
        Case(
            name: "missing match",
            toml: "[[rule]]\nmatch = \"a\"\nn = 1\n[[rule]]\nn = 2\n",
            line: 4, reason: ["rule 2 has no 'match' key", "match = \"videos/**\""]
        ),
        Case(
            name: "missing n",
            toml: "[[rule]]\nmatch = \"a/**\"\n",
            line: 1, reason: ["rule 1 has no 'n' key", "n = 2"]
        ),
        Case(
            name: "match is not a string",
            toml: "[[rule]]\nn = 1\nmatch = 5\n",
            line: 3, reason: ["'match' in rule 1 must be a string", "the integer 5"]
        ),
        Case(
            name: "n is a string",
            toml: "[[rule]]\nmatch = \"a\"\nn = \"two\"\n",
            line: 3, reason: ["'n' in rule 1 must be a whole number", "the string \"two\""]
        ),
        Case(
            name: "n is a float",
            toml: "[[rule]]\nmatch = \"a\"\nn = 2.5\n",
            line: 3, reason: ["'n' in rule 1 must be a whole number", "the number 2.5"]
        ),
        Case(
            name: "n is a boolean",
            toml: "[[rule]]\nmatch = \"a\"\nn = true\n",
            line: 3, reason: ["'n' in rule 1 must be a whole number", "the boolean true"]
        ),
        Case(
            name: "n is zero",
            toml: "[[rule]]\nmatch = \"a\"\nn = 0\n",
            line: 3, reason: ["'n' in rule 1 is 0", "at least 1"]
        ),
        Case(
            name: "n is negative",
            toml: "[[rule]]\nmatch = \"a\"\n  n = -2\n",
            line: 3, reason: ["'n' in rule 1 is -2", "at least 1"]
        ),
        Case(
            name: "n is above 1000",
            toml: "[[rule]]\nmatch = \"a\"\nn = 1001\n",
            line: 3, reason: ["'n' in rule 1 is 1001", "maximum is 1000"]
        ),
        Case(
            name: "glob mixing ** with characters",
            toml: "[[rule]]\n\nmatch = \"videos/a**\"\nn = 1\n",
            line: 3, reason: ["invalid glob in rule 1", "'a**'", "whole segment"]
        ),
        Case(
            name: "glob with an unclosed bracket",
            toml: "[[rule]]\nn = 1\nmatch = 'a[bc'\n",
            line: 3, reason: ["invalid glob in rule 1", "closing ']'"]
        ),
        Case(
            name: "empty glob",
            toml: "[[rule]]\nmatch = \"\"\nn = 1\n",
            line: 2, reason: ["invalid glob in rule 1", "empty"]
        ),
        Case(
            name: "absolute glob",
            toml: "[[rule]]\nmatch = \"/videos/**\"\nn = 1\n",
            line: 2, reason: ["invalid glob in rule 1", "starts with '/'"]
        ),
        Case(
            name: "size with an unknown unit",
            toml: "[[rule]]\nmatch = \"a\"\nmin_size = \"10X\"\nn = 1\n",
            line: 3, reason: ["'min_size' in rule 1 is not a valid size", "unknown unit 'X'"]
        ),
        Case(
            name: "fractional size",
            toml: "[[rule]]\nmatch = \"a\"\nmax_size = \"1.5G\"\nn = 1\n",
            line: 3, reason: ["'max_size' in rule 1 is not a valid size", "512K or 10G"]
        ),
        Case(
            name: "size with a non-ASCII letter",
            toml: "[[rule]]\nmatch = \"a\"\nmin_size = \"10ß\"\nn = 1\n",
            line: 3, reason: ["'min_size' in rule 1 is not a valid size"]
        ),
        Case(
            name: "negative size in bytes",
            toml: "[[rule]]\nmatch = \"a\"\nn = 1\nmax_size = -5\n",
            line: 4, reason: ["'max_size' in rule 1 is -5", "cannot be negative"]
        ),
        Case(
            name: "size of the wrong type",
            toml: "[[rule]]\nmatch = \"a\"\nmin_size = 1.5\nn = 1\n",
            line: 3, reason: ["'min_size' in rule 1 must be a size such as \"10G\"", "the number 1.5"]
        ),
        Case(
            name: "min_size above max_size",
            toml: "[[rule]]\nmatch = \"a\"\nmin_size = \"10G\"\nmax_size = \"1M\"\nn = 1\n",
            line: 4, reason: ["rule 1 has min_size (10.0 GiB) larger than max_size (1.0 MiB)", "never match"]
        ),
        Case(
            name: "rule as a plain table",
            toml: "# one rule\n[rule]\nmatch = \"a\"\nn = 1\n",
            line: 2, reason: ["'rule' must be an array of tables, not a single table", "[[rule]] header (double brackets)"]
        ),
        Case(
            name: "rule as a string",
            toml: "rule = \"videos/**\"\n",
            line: 1, reason: ["'rule' must be an array of tables"]
        ),
        Case(
            name: "rule as an array of numbers",
            toml: "rule = [1, 2]\n",
            line: 1, reason: ["rule 1 must be a table", "the integer 1"]
        ),
        Case(
            name: "inline rules point at the rule array",
            toml: "\nrule = [{ match = \"a\", n = 1 }, { match = \"b\", n = 0 }]\n",
            line: 2, reason: ["'n' in rule 2 is 0"]
        ),
        Case(
            name: "default as a number",
            toml: "default = 3\n",
            line: 1, reason: ["'default' must be a table", "[default]"]
        ),
        Case(
            name: "default as an array of tables",
            toml: "[[default]]\nn = 3\n",
            line: 1, reason: ["single [default] table, not [[default]]"]
        ),
        Case(
            name: "default without n",
            toml: "[[rule]]\nmatch = \"a\"\nn = 1\n[default]\n",
            line: 4, reason: ["[default] has no 'n' key", "n = 3"]
        ),
        Case(
            name: "default n of zero",
            toml: "[default]\n# how many\nn = 0\n",
            line: 3, reason: ["'n' in [default] is 0", "at least 1"]
        ),
        Case(
            name: "line numbers skip multi-line strings",
            toml: "[[rule]]\nmatch = '''\n[[rule]]\nn = 0'''\nn = 1\n[[rule]]\nmatch = \"b\"\nn = 0\n",
            line: 8, reason: ["'n' in rule 2 is 0"]
        ),
        Case(
            name: "line numbers with CRLF line endings",
            toml: "[[rule]]\r\nmatch = \"a\"\r\nn = 1\r\n\r\n[[rule]]\r\nmatch = \"b\"\r\nn = 0\r\n",
            line: 7, reason: ["'n' in rule 2 is 0"]
        ),
        Case(
            name: "quoted keys",
            toml: "[[rule]]\n\"match\" = \"a\"\n'n' = 0\n",
            line: 3, reason: ["'n' in rule 1 is 0"]
        ),
        Case(
            name: "NUL character",
            toml: "[[rule]]\nmatch = \"a\u{0}\"\nn = 1\n",
            line: 2, reason: ["NUL"]
        ),
        // Found by fuzzing: the TOML parser aborted the process on it.
        Case(
            name: "control character in a table header",
            toml: "# policies\n\n[\u{11}efault]\nn = 3\n",
            line: 3, reason: ["control character (U+0011)"]
        ),
        Case(
            name: "table header without a name",
            toml: "# [\n# n\n\n[\nfe]dtn = 3\n",
            line: 4, reason: ["table header needs a name"]
        ),
        Case(
            name: "array of tables header starting with a dot",
            toml: "[default]\nn = 1\n[[ . ]]\n",
            line: 3, reason: ["table header needs a name"]
        ),
        Case(
            name: "table header opening on a combining mark",
            toml: "[\u{64B}x]\nn = 1\n",
            line: 1, reason: ["table header needs a name"]
        ),
        Case(
            name: "DEL in a comment",
            toml: "[default]\nn = 2 # old\u{7F}\n",
            line: 2, reason: ["control character (U+007F)"]
        ),
    ]

    @Test(arguments: cases)
    func rejectsWithFileLineAndReason(_ example: Case) throws {
        let error = try #require(rejection(example.toml, fileName: "policies/bad.toml"))
        #expect(error.file == "policies/bad.toml")
        #expect(error.line == example.line)
        let prefix = example.line.map { "policies/bad.toml:\($0): " } ?? "policies/bad.toml: "
        #expect(error.description.hasPrefix(prefix), "\(error)")
        for words in example.reason {
            #expect(error.reason.contains(words), "\(error)")
        }
        #expect(!error.description.contains("\n"), "one line: \(error)")
    }

    @Test func ofSeveralUnknownKeysTheFirstWrittenIsReported() throws {
        let error = try #require(rejection("[[rule]]\nzeta = 1\nalpha = 2\nmatch = \"a\"\nn = 1\n"))
        #expect(error.line == 2)
        #expect(error.reason.contains("'zeta'"))
    }

    @Test func errorsPrintAsFileColonLineColonReason() {
        #expect(PolicyError(file: "p/a.toml", line: 7, reason: "bad").description == "p/a.toml:7: bad")
        #expect(PolicyError(file: "p", reason: "missing").description == "p: missing")
    }
}

// MARK: Loading a directory

@Suite("Policy directories")
struct PolicyDirectoryTests {
    @Test func loadsTomlFilesInByteWiseNameOrderAndIgnoresEverythingElse() throws {
        try withTemporaryDirectory { dir in
            try write("[[rule]]\nmatch = \"**/*.db\"\nn = 5\n", to: "\(dir)/b.toml")
            try write("[[rule]]\nmatch = \"data/**\"\nn = 2\n", to: "\(dir)/a.toml")
            // 'Z' (0x5A) sorts before 'a' (0x61) byte-wise, though not in a dictionary.
            try write("[[rule]]\nmatch = \"data/special.db\"\nn = 7\n", to: "\(dir)/Z.toml")
            try write("this is not TOML [[[", to: "\(dir)/.hidden.toml")
            try write("this is not TOML [[[", to: "\(dir)/notes.txt")
            try write("this is not TOML [[[", to: "\(dir)/backup.toml.orig")
            try FileManager.default.createDirectory(atPath: "\(dir)/sub", withIntermediateDirectories: false)
            try write("this is not TOML [[[", to: "\(dir)/sub/c.toml")
            try FileManager.default.createDirectory(atPath: "\(dir)/folder.toml", withIntermediateDirectories: false)

            let set = try PolicySet.load(directory: dir)
            #expect(set.rules.map(\.source.file) == ["\(dir)/Z.toml", "\(dir)/a.toml", "\(dir)/b.toml"])
            #expect(try set.replicas(for: path("data/special.db"), size: 1) == 7)
            #expect(try set.replicas(for: path("data/x.db"), size: 1) == 2)
            #expect(try set.replicas(for: path("x.db"), size: 1) == 5)
            #expect(try set.replicas(for: path("x.txt"), size: 1) == 3)
            #expect(set.defaultSource == nil)
        }
    }

    @Test func theDefaultMayComeFromAnyOneFile() throws {
        try withTemporaryDirectory { dir in
            try write("[[rule]]\nmatch = \"a/**\"\nn = 2\n", to: "\(dir)/10-rules.toml")
            try write("# site default\n[default]\nn = 4\n", to: "\(dir)/99-default.toml")
            let set = try PolicySet.load(directory: dir + "/")
            #expect(set.defaultN == 4)
            #expect(set.defaultSource == PolicySource(file: "\(dir)/99-default.toml", line: 2))
        }
    }

    @Test func anEmptyDirectoryGivesTheBuiltinPolicy() throws {
        try withTemporaryDirectory { dir in
            let set = try PolicySet.load(directory: dir)
            #expect(set == PolicySet.builtin)
        }
    }

    @Test func aSecondDefaultIsAnErrorNamingBothFiles() throws {
        try withTemporaryDirectory { dir in
            try write("[[rule]]\nmatch = \"a\"\nn = 1\n\n[default]\nn = 2\n", to: "\(dir)/a.toml")
            try write("# mine\n[default]\nn = 4\n", to: "\(dir)/b.toml")
            guard case .failure(let error) = load(dir) else {
                Issue.record("two [default] tables were accepted")
                return
            }
            #expect(error.file == "\(dir)/b.toml")
            #expect(error.line == 2)
            #expect(error.description.contains("\(dir)/a.toml:5"))
            #expect(error.description.contains("\(dir)/b.toml"))
            #expect(error.reason.contains("only one [default]"))
        }
    }

    @Test func anErrorInOneFileNamesThatFileAndLine() throws {
        try withTemporaryDirectory { dir in
            try write("[[rule]]\nmatch = \"a\"\nn = 1\n", to: "\(dir)/a.toml")
            try write("[[rule]]\nmatch = \"b\"\nn = 1\n[[rule]]\nmtach = \"c\"\nn = 2\n", to: "\(dir)/b.toml")
            guard case .failure(let error) = load(dir) else {
                Issue.record("a typo was accepted")
                return
            }
            #expect(error.description.hasPrefix("\(dir)/b.toml:5: unknown key 'mtach' in rule 2"))
        }
    }

    @Test func aFileThatIsNotUTF8IsRejected() throws {
        try withTemporaryDirectory { dir in
            try Data([0x5B, 0xFF, 0xFE, 0x5D]).write(to: URL(fileURLWithPath: "\(dir)/bin.toml"))
            guard case .failure(let error) = load(dir) else {
                Issue.record("binary file accepted")
                return
            }
            #expect(error.file == "\(dir)/bin.toml")
            #expect(error.reason.contains("UTF-8"))
        }
    }

    @Test func aBrokenSymbolicLinkIsReportedNotSkipped() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/gone.toml", withDestinationPath: "\(dir)/nowhere")
            guard case .failure(let error) = load(dir) else {
                Issue.record("dangling link accepted")
                return
            }
            #expect(error.file == "\(dir)/gone.toml")
            #expect(error.reason.contains("cannot read"))
        }
    }

    @Test func aMissingDirectoryIsAnError() throws {
        try withTemporaryDirectory { dir in
            guard case .failure(let error) = load("\(dir)/nope") else {
                Issue.record("missing directory accepted")
                return
            }
            #expect(error.file == "\(dir)/nope")
            #expect(error.line == nil)
            #expect(error.reason.contains("does not exist"))
        }
    }

    @Test func aRegularFileIsNotADirectory() throws {
        try withTemporaryDirectory { dir in
            try write("[default]\nn = 2\n", to: "\(dir)/policy.toml")
            guard case .failure(let error) = load("\(dir)/policy.toml") else {
                Issue.record("a file was accepted as a directory")
                return
            }
            #expect(error.reason.contains("not a directory"))
        }
    }
}

// MARK: Shipped policy files

@Suite("Shipped policy files")
struct ShippedPolicyTests {
    /// `<repo>/Tests/ReplicaCoreTests/PolicyTests.swift` → `<repo>`.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func load(_ relative: String) throws -> PolicySet {
        try PolicySet.load(directory: "\(repositoryRoot)/\(relative)")
    }

    @Test func theDefaultFileHasNoActiveRulesAndNThree() throws {
        let set = try Self.load("policies")
        #expect(set.rules.isEmpty)
        #expect(set.defaultN == 3)
        #expect(set.defaultSource?.file == "\(Self.repositoryRoot)/policies/default.toml")
        #expect(try set.replicas(for: path("videos/a.mp4"), size: 5 * GiB) == 3)
    }

    @Test func theCommentedExamplesInTheDefaultFileAreValidRules() throws {
        // Uncommenting the examples must give a valid file, or users copying them get errors.
        let text = try String(contentsOfFile: "\(Self.repositoryRoot)/policies/default.toml", encoding: .utf8)
        let examples = text.split(separator: "\n", omittingEmptySubsequences: false)
            .drop { !$0.hasPrefix("# [[rule]]") }
            .prefix { $0.hasPrefix("#") }
            .map { $0.dropFirst(2) }
            .joined(separator: "\n")
        let file = try PolicySet.parse(String(examples), fileName: "examples")
        #expect(file.rules.count == 2)
        let set = try PolicySet(files: [file])
        #expect(try set.replicas(for: path("app/state.db"), size: 2 * GiB) == 5)
        #expect(try set.replicas(for: path("app/cache/x"), size: 1) == 1)
    }

    @Test(arguments: [
        ("originals/2024/trip/IMG_0001.CR3", 30 * MiB, 3),
        ("originals/2024/trip/IMG_0001.xmp", 4096, 4),
        ("originals/2024/trip/thumbnails/IMG_0001.jpg", 40_000, 1),
        ("originals/raw/2024/wedding/A001.mov", 80 * GiB, 2),
        ("originals/raw/2024/wedding/A002.mov", 50 * GiB, 2),
        ("originals/raw/2024/wedding/A003.mov", 12 * GiB, 3),
        ("transcodes/1080p/wedding.mp4", 2 * GiB, 2),
        ("music/Artist/Album/01 Song.flac", 30 * MiB, 3),
        ("music/Artist/Album/01 Song.FLAC", 30 * MiB, 3),
        ("music/Artist/Album/01 Song.mp3", 8 * MiB, 2),
        ("inbox/phone/VID_1.mp4", 100 * MiB, 2),
        ("documents/scan.pdf", MiB, 2),
    ] as [(String, Int64, Int)])
    func theMediaLibraryExampleGivesTheExpectedN(file: String, size: Int64, n: Int) throws {
        let set = try Self.load("policies/examples/media-library")
        let virtualPath = try path(file)
        #expect(set.replicas(for: virtualPath, size: size) == n, "\(set.explain(path: virtualPath, size: size))")
    }

    @Test(arguments: [
        ("releases/v2.3.0/app-2.3.0.tar.gz", 80 * MiB, 4),
        ("releases/v2.3.0/installer.iso", 3 * GiB, 4),
        ("releases/v2.3.0/build.log", MiB, 1),
        ("nightly/2024-06-01/installer.iso", 3 * GiB, 1),
        ("nightly/2024-06-01/installer.iso", 500 * MiB, 2),
        ("nightly/2024-06-01/app.tar.gz", 80 * MiB, 2),
        ("nightly/2024-06-01/logs/test.log", 5 * MiB, 1),
        ("pr/1234/app.tar.gz", 80 * MiB, 1),
        ("cache/ccache/ab/cdef", 20_000, 2),
    ] as [(String, Int64, Int)])
    func theBuildArtifactsExampleGivesTheExpectedN(file: String, size: Int64, n: Int) throws {
        let set = try Self.load("policies/examples/build-artifacts")
        let virtualPath = try path(file)
        #expect(set.replicas(for: virtualPath, size: size) == n, "\(set.explain(path: virtualPath, size: size))")
    }

    @Test(arguments: ["policies", "policies/examples/media-library", "policies/examples/build-artifacts"])
    func everyShippedDirectoryHasExactlyOneDefault(_ relative: String) throws {
        #expect(try Self.load(relative).defaultSource != nil)
    }
}
