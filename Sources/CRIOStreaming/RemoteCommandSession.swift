import CRIORuntime
import Logging
import NIOCore

/// Starts what the request asks for and runs it over the client's streams.
enum RemoteCommandSession {
  static func run(
    request: StreamRequest, streams: RemoteCommandStreams, backend: StreamingBackend, group: EventLoopGroup,
    logger: Logger
  ) async {
    switch request {
    case .exec(let exec):
      let process: ExecProcess
      do {
        process = try await backend.startExec(exec)
      } catch {
        await streams.finish(.failure("cannot exec in container \(exec.containerID): \(error)"))
        return
      }
      await RemoteCommandRunner.exec(process, streams: streams, group: group, logger: logger)
    case .attach(let attach):
      let endpoint: AttachEndpoint
      do {
        endpoint = try await backend.attachEndpoint(attach)
      } catch {
        await streams.finish(.failure("cannot attach to container \(attach.containerID): \(error)"))
        return
      }
      await RemoteCommandRunner.attach(endpoint, streams: streams, group: group, logger: logger)
    case .portForward:
      await streams.finish(.failure("port-forward is not a remote command"))
    }
  }
}
