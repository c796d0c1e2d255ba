import NIOPosix

#if canImport(Glibc)
import Glibc

/// `malloc_trim(3)` (glibc ≥ 2.8), which Glibc's Swift module leaves out (it is declared in
/// `malloc.h`, outside the module map). Same C signature, `int malloc_trim(size_t pad)`.
@_silgen_name("malloc_trim")
private func systemMallocTrim(_ pad: Int) -> Int32
#endif

/// Gives the heap that work on a whole node's files freed back to the kernel. glibc keeps
/// freed memory in its arenas for reuse, so after a recovery (its per-path map of every
/// version taken) or a whole inventory of a million files, the master's RSS would otherwise
/// stay at the peak while it sits idle.
enum HeapRelease {
    /// Work on fewer files than this leaves too little behind to be worth a trim.
    static let worthwhileFiles = 50_000

    /// Trims every arena, on NIO's blocking pool: it walks them all, which takes milliseconds.
    static func trim() async {
        #if canImport(Glibc)
        _ = try? await NIOThreadPool.singleton.runIfActive { systemMallocTrim(0) }
        #endif
    }
}
