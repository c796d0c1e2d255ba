import Foundation
@testable import ReplicaCore
import Testing
import TestSupport

extension Integration {
    /// A master on MongoDB killed while it records a put that replaces a file: whatever the
    /// catalog write it had reached, the path still reads back afterwards, with the new version
    /// if the put said it was stored, and the old one or the new one otherwise.
    ///
    /// The cut is made by the server: a `failCommand` failpoint (SecantusDB started with its
    /// test commands, scoped to the master's connections by their `appname`) fails every
    /// command of one kind while the commit is asked, and the master is killed while the node
    /// asks again, as a master dying between two writes of the commit leaves the catalog.
    @Suite("Puts cut short on MongoDB")
    struct InterruptedPutTests {
        @Test(
            "A master killed while it records a replacing put, at any catalog write: the path still reads back, the new version if the put succeeded",
            arguments: ["insert", "findAndModify", "update", "delete"])
        func masterKilledDuringCommit(failing command: String) async throws {
            // A server of its own: the failpoint is server-wide state.
            let server = try await MongoTestServer.start(testCommands: true)
            let application = "fsdfs-cut-\(UUID().uuidString.prefix(8))"
            let uri = server.uri(database: "fsdfs_cut") + "&appname=\(application)"
            do {
                try await withCluster(catalogURI: uri) { cluster in
                    let admin = try MongoConnection(uri: server.uri(database: "admin"))
                    // The master takes no uploads: the put goes to the slave, which outlives the
                    // master and asks it again about the commit.
                    let master = try await cluster.start("master", quota: "0", asMaster: true)
                    let slave = try await cluster.start("slave", quota: "1G")
                    try await cluster.waitForNodes(2)
                    let old = try cluster.localFile("old", size: 50_000, seed: 81)
                    let new = try cluster.localFile("new", size: 60_000, seed: 82)
                    try await cluster.put(old, "cut/file.bin")
                    try await eventually("the old version counted") { try await cluster.whereIs("cut/file.bin")?.k == 1 }

                    try await Self.failCommand(command, for: application, on: admin)
                    let log = cluster.root.appendingPathComponent("put.log")
                    let put = try Fsdfsd.start(["put", new.path, "cut/file.bin"], environment: cluster.environment, log: log)
                    try await eventually("the node asks again about the commit") {
                        slave.logText().contains("not answered")
                    }
                    await master.crash()
                    try await Self.failCommand(nil, for: application, on: admin)
                    try await cluster.restart(master)
                    try await eventually("the put ended", timeout: .seconds(60)) { !put.isRunning }
                    let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""

                    let check = cluster.root.appendingPathComponent("check.bin")
                    var got: Data?
                    try? await eventually("the path reads back", timeout: .seconds(30)) {
                        try? FileManager.default.removeItem(at: check)
                        let result = try await cluster.cli("get", "cut/file.bin", check.path)
                        guard result.status == 0 else { return false }
                        got = try Data(contentsOf: check)
                        return true
                    }
                    let read = try #require(got, "cut/file.bin no longer reads back (put: \(output))")
                    let (oldBytes, newBytes) = (try Data(contentsOf: old), try Data(contentsOf: new))
                    print("put cut short at \(command): exit \(put.terminationStatus), reads back the \(read == newBytes ? "new" : read == oldBytes ? "old" : "other") version")
                    if put.terminationStatus == 0 {
                        #expect(read == newBytes, "the put succeeded: \(output)")
                    } else {
                        #expect(read == oldBytes || read == newBytes, "\(output)")
                    }
                    try await cluster.expectAuditClean()
                }
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }

        /// Makes the server fail every `command` from the connections of `application` (or
        /// none, for nil) with an error that is neither a lost connection nor a duplicate key.
        static func failCommand(_ command: String?, for application: String, on admin: MongoConnection) async throws {
            let mode: BSON = command == nil ? "off" : "alwaysOn"
            let data: BSONDocument = [
                "failCommands": .array(command.map { [.string($0)] } ?? []), "appName": .string(application),
                "errorCode": .int32(8),
            ]
            _ = try await admin.withSession { session in
                try session.command(
                    ["configureFailPoint": "failCommand", "mode": mode, "data": .document(data)], database: "admin",
                    operation: "configureFailPoint")
            }
        }
    }
}
