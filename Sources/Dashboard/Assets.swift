import Foundation
import NIOCore

/// The dashboard's pages, styles and script: hand-written files in `Resources/`, compiled
/// into the binary (SwiftPM `embedInCode`), so the dashboard needs no network and no files
/// next to the executable.
enum Assets {
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String

        init(_ bytes: [UInt8], _ contentType: String) {
            self.bytes = ByteBuffer(bytes: bytes)
            self.contentType = contentType
        }
    }

    static let index = Asset(PackageResources.index_html, "text/html; charset=utf-8")
    /// The login page, with `{{message}}` where a refusal is written.
    static let loginTemplate = String(decoding: PackageResources.login_html, as: UTF8.self)

    /// Served to anyone (the login page needs them): nothing in them is secret.
    static let files: [String: Asset] = [
        "app.js": Asset(PackageResources.app_js, "text/javascript; charset=utf-8"),
        "app.css": Asset(PackageResources.app_css, "text/css; charset=utf-8"),
        "favicon.svg": Asset(PackageResources.favicon_svg, "image/svg+xml"),
    ]

    /// The login page with `message` (plain text, escaped here) in its alert slot.
    static func loginPage(message: String?) -> String {
        let alert = message.map { "<p class=\"alert alert-risk\" role=\"alert\" id=\"login-error\">\(escapeHTML($0))</p>" } ?? ""
        return loginTemplate.replacingOccurrences(of: "{{message}}", with: alert)
    }

    static func escapeHTML(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
