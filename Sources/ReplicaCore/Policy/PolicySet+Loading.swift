import Foundation
import TOMLKit

extension PolicySet {
    /// Parses the text of one policy file. `fileName` is used in sources and error messages.
    ///
    /// An empty file is valid and has no rules. Every rejection is a ``PolicyError`` naming
    /// `fileName`, the line where it can be found, and what to change.
    public static func parse(_ text: String, fileName: String) throws(PolicyError) -> PolicyFile {
        if let nul = text.unicodeScalars.firstIndex(of: "\0") {
            let line = text.unicodeScalars[..<nul].filter { $0 == "\n" }.count + 1
            throw PolicyError(file: fileName, line: line, reason: "the file contains a NUL character; policy files are plain text")
        }
        // TOML allows no control character but tab and line ends, and the TOML parser aborts
        // the process on some of them (found by fuzzing, scripts/fuzz.sh): refused here first.
        if let control = text.unicodeScalars.firstIndex(where: { ($0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r") || $0.value == 0x7F }) {
            let line = text.unicodeScalars[..<control].filter { $0 == "\n" }.count + 1
            let value = String(format: "U+%04X", text.unicodeScalars[control].value)
            throw PolicyError(
                file: fileName, line: line, reason: "the file contains a control character (\(value)); policy files are plain text")
        }
        if let line = headerWithoutName(text) {
            throw PolicyError(
                file: fileName, line: line, reason: "a table header needs a name right after its bracket, as in [default] or [[rule]]")
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let position = error.source.begin
            throw PolicyError(
                file: fileName, line: position.line,
                reason: "invalid TOML at column \(position.column): \(error.description)"
            )
        } catch {
            throw PolicyError(file: fileName, reason: "invalid TOML: \(error)")
        }
        return try PolicyFileParser(fileName: fileName, map: PolicySourceMap(text)).parse(root)
    }

    /// The first line that starts (after blanks) with a bracket followed by something that
    /// cannot start a key (a line end, a dot, `#`, `=`…): the TOML parser aborts the process
    /// on some such table headers (found by fuzzing, scripts/fuzz.sh). Every line is looked
    /// at, inside multi-line strings too, where such a line is refused as well: telling
    /// strings from comments is the parser's job, and a mistake here would let it abort.
    static func headerWithoutName(_ text: String) -> Int? {
        // Unicode scalars, not characters: a combining mark after a bracket is its own scalar.
        let keyStart = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-\"']".unicodeScalars)
        for (index, line) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            guard rest.first == "[" else { continue }
            rest = rest.dropFirst()
            if rest.first == "[" { rest = rest.dropFirst() }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let first = rest.first, keyStart.contains(first) else { return index + 1 }
        }
        return nil
    }

    /// Loads every `*.toml` file directly in `directory` (not in sub-directories; hidden files
    /// and other names are ignored), in byte-wise order of their names, and combines them with
    /// ``init(files:)``: rules are tried file by file, and at most one file may have `[default]`.
    ///
    /// Sources and errors name files as `directory/name.toml`. A missing or unreadable
    /// directory is an error: running with the built-in default by accident would be worse.
    public static func load(directory: String) throws(PolicyError) -> PolicySet {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw PolicyError(
                file: directory,
                reason: "the policy directory does not exist; create it or pass an existing directory of *.toml files"
            )
        }
        guard isDirectory.boolValue else {
            throw PolicyError(file: directory, reason: "this is not a directory; pass the directory that holds the *.toml files")
        }
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory)
        } catch {
            throw PolicyError(file: directory, reason: "cannot list the policy directory: \(error.localizedDescription)")
        }
        let policyNames = names
            .filter { !$0.hasPrefix(".") && $0.hasSuffix(".toml") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        var files: [PolicyFile] = []
        for name in policyNames {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var isSubdirectory: ObjCBool = false
            if manager.fileExists(atPath: path, isDirectory: &isSubdirectory), isSubdirectory.boolValue { continue }
            files.append(try parse(readText(path), fileName: path))
        }
        return try PolicySet(files: files)
    }

    private static func readText(_ path: String) throws(PolicyError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PolicyError(file: path, reason: "cannot read the policy file: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyError(file: path, reason: "the policy file is not valid UTF-8 text")
        }
        return text
    }
}
