import Foundation
import Testing
import ReplicaCore

@Suite("Event records")
struct EventRecordTests {
    @Test("An event's JSON has ISO 8601 times in milliseconds that read back and write again unchanged; absent fields are left out")
    func jsonRoundTrip() throws {
        let event = EventRecord(seq: 7, NewEvent(
            time: Date(timeIntervalSince1970: 1_700_000_000.4815), kind: .nodeDown, node: "n1", address: "10.0.0.7:4242",
            message: "node 10.0.0.7:4242 is down"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(event), as: UTF8.self)
        #expect(text == #"{"address":"10.0.0.7:4242","kind":"node_down","message":"node 10.0.0.7:4242 is down","node":"n1","seq":7,"time":"2023-11-14T22:13:20.482Z"}"#)
        let decoded = try JSONDecoder().decode(EventRecord.self, from: Data(text.utf8))
        #expect(String(decoding: try encoder.encode(decoded), as: UTF8.self) == text)
        #expect(decoded.path == nil && decoded.kind == .nodeDown)
        #expect(EventRecord.format(Date(timeIntervalSince1970: 0.9996)) == "1970-01-01T00:00:01.000Z")
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(EventRecord.self, from: Data(#"{"seq":1,"time":"yesterday","kind":"x","message":""}"#.utf8))
        }
    }
}
