import Foundation
import NIOCore
import ReplicaCore
import _NIOFileSystem

/// `<data>/.fsdfs/scrub.json`: the scrubber's last full pass and totals, so that a restarted
/// node does not scan again before the next pass is due. Written to a temp file and renamed,
/// so it is always either the old or the new record.
struct ScrubJournal: Sendable {
    let directory: DataDirectory

    var file: FilePath { directory.metadata.appending("scrub.json") }

    /// What was recorded; an empty status if nothing was, or if the record cannot be read
    /// (then the next pass is due at once, which is the safe side).
    func load() async -> (status: ScrubStatus, problem: String?) {
        let file = self.file
        let bytes: ByteBuffer
        do {
            bytes = try await ByteBuffer(contentsOf: file, maximumSizeAllowed: .mebibytes(1), fileSystem: directory.fileSystem)
        } catch let error as FileSystemError where error.code == .notFound {
            return (ScrubStatus(), nil)
        } catch {
            return (ScrubStatus(), "cannot read \(file): \(error)")
        }
        do {
            var status = try JSONDecoder().decode(ScrubStatus.self, from: Data(buffer: bytes))
            status.current = nil
            return (status, nil)
        } catch {
            return (ScrubStatus(), "cannot decode \(file): \(error)")
        }
    }

    /// Records `status` (without the pass under way).
    func save(_ status: ScrubStatus) async throws {
        var status = status
        status.current = nil
        let data = try JSONEncoder().encode(status)
        let temporary = directory.temporary.appending("scrub-\(UUID().uuidString.lowercased()).json")
        try await mapErrors("write", temporary.string) {
            try await ByteBuffer(data: data).write(
                toFileAt: temporary, options: .newFile(replaceExisting: true), fileSystem: directory.fileSystem)
        }
        do {
            try await directory.rename(temporary, to: file)
        } catch {
            _ = try? await directory.fileSystem.removeItem(at: temporary, strategy: .sequential, recursively: false)
            throw error
        }
    }
}
