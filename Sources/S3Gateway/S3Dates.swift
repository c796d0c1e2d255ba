import Foundation

/// The two date forms of the S3 API: ISO 8601 with milliseconds in XML, the HTTP date in
/// headers (`Last-Modified`, `If-Modified-Since`).
enum S3Dates {
    static func iso8601(_ date: Date) -> String {
        let parts = utc(date)
        let millis = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.year, parts.month, parts.day, parts.hour, parts.minute,
            parts.second, max(millis, 0))
    }

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Tue, 01 Dec 2026 19:09:36 GMT`.
    static func http(_ date: Date) -> String {
        let parts = utc(date)
        let day = String(format: "%02d", parts.day)
        let time = String(format: "%04d %02d:%02d:%02d", parts.year, parts.hour, parts.minute, parts.second)
        return "\(days[parts.weekday - 1]), \(day) \(months[parts.month - 1]) \(time) GMT"
    }

    /// An HTTP date (RFC 7231's preferred form), or nil.
    static func parseHTTP(_ text: String) -> Date? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", let day = Int(fields[1]),
              let month = months.firstIndex(of: String(fields[2])), let year = Int(fields[3])
        else { return nil }
        let time = fields[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month + 1, day)
        (components.hour, components.minute, components.second) = (time[0], time[1], time[2])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }

    private static func utc(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        return (c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, c.weekday!)
    }
}
