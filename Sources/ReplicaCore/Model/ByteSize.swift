/// Parsing and printing of sizes such as `10`, `512K`, `10G`, `1T` (powers of 1024).
public enum ByteSize {
    private static let units: [(suffix: Character, shift: Int)] = [
        ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("P", 50),
    ]

    /// Parses a size: a whole number of bytes, optionally followed by K, M, G, T or P
    /// (case-insensitive, powers of 1024; a trailing `B` or `iB` is accepted, so `10GiB` works).
    public static func parse(_ text: String) throws(ByteSizeError) -> Int64 {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw .empty }
        guard trimmed.allSatisfy(\.isASCII) else { throw .invalid(text) }
        var body = Substring(trimmed.uppercased())
        if body.hasSuffix("IB"), body.count > 2 {
            body = body.dropLast(2)
            guard let last = body.last, units.contains(where: { $0.suffix == last }) else { throw .invalid(text) }
        } else if body.hasSuffix("B"), body.count > 1 {
            body = body.dropLast()
        }
        var shift = 0
        if let last = body.last, !last.isNumber {
            guard let unit = units.first(where: { $0.suffix == last }) else {
                throw .unknownUnit(text, String(last))
            }
            shift = unit.shift
            body = body.dropLast()
        }
        guard !body.isEmpty, body.allSatisfy(\.isNumber) else { throw .invalid(text) }
        guard let value = Int64(body) else { throw .tooLarge(text) }
        let (result, overflow) = value.multipliedReportingOverflow(by: Int64(1) << shift)
        guard !overflow else { throw .tooLarge(text) }
        return result
    }

    /// Prints a size for people: `512 B`, `1.5 KiB`, `10.0 GiB`.
    public static func format(_ bytes: Int64) -> String {
        let names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var index = 0
        // Round before settling on the unit, so 1_048_575 prints as 1.0 MiB, not 1024.0 KiB.
        while (abs(value) * 10).rounded() / 10 >= 1024, index < names.count - 1 {
            value /= 1024
            index += 1
        }
        if index == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(names[index])"
    }
}

/// Why a size could not be parsed.
public enum ByteSizeError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case invalid(String)
    case unknownUnit(String, String)
    case tooLarge(String)

    public var description: String {
        switch self {
        case .empty: "the size is empty; write a number of bytes such as 1048576 or 10G"
        case .invalid(let text): "'\(text)' is not a size; write a whole number with an optional K, M, G or T suffix, such as 512K or 10G"
        case .unknownUnit(let text, let unit): "'\(text)' has the unknown unit '\(unit)'; use K, M, G, T or P (powers of 1024)"
        case .tooLarge(let text): "'\(text)' is too large"
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        let scalars = self[...]
        guard let start = scalars.firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.isWhitespace })!
        return Substring(scalars[start...end])
    }
}
