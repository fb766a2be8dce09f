import ArgumentParser
import NIOCore
import NIOPosix

// Swift concurrency runs on SwiftNIO's event loops (as many threads as the
// concurrency pool would have), so a CRI call is read, handled and answered
// without the hops between NIO's threads and the concurrency pool, which
// cost about half the server time of a status call. Blocking work already
// goes to Dispatch threads (`OffPool`, process waits), as it must with
// either executor. It must be installed before any task exists: first.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// `AsyncParsableCommand.main()` (in top-level code that name resolves to
/// the synchronous `ParsableCommand.main()`, which refuses async commands).
func runCommand() async {
  await CrioCommand.main()
}
await runCommand()
