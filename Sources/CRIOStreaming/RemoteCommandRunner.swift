import CRIORuntime
import CRIOSystem
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Runs an exec or attach between the runtime's descriptors and the
/// client's streams, whatever the transport.
enum RemoteCommandRunner {
  /// How long output may keep flowing after the exec'd process has exited
  /// (a background child holding stdout open must not hold the stream).
  static let drainTimeout: Duration = .seconds(2)

  static func exec(_ process: ExecProcess, streams: RemoteCommandStreams, group: EventLoopGroup, logger: Logger) async {
    let exited = NIOLockedValueBox(false)
    // The client went away before the process ended: kill it.
    let watcher = Task {
      await streams.clientGone()
      if !exited.withLockedValue({ $0 }) { process.kill() }
    }
    var pumps: [Task<Void, Never>] = []
    var inputs: [Task<Void, Never>] = []
    do {
      if let terminal = process.terminal {
        let channel = try await DescriptorChannel.pipe(read: terminal, write: terminal, group: group)
        pumps.append(Task { await pumpTerminal(channel, streams: streams) })
        if let resize = streams.resize {
          inputs.append(Task { for await size in resize { process.resize(width: size.width, height: size.height) } })
        }
      } else {
        if let fd = process.stdout {
          let channel = try await DescriptorChannel.pipe(read: fd, write: nil, group: group)
          pumps.append(Task { await copyOutput(channel, to: streams.stdout) })
        }
        if let fd = process.stderr {
          let channel = try await DescriptorChannel.pipe(read: fd, write: nil, group: group)
          pumps.append(Task { await copyOutput(channel, to: streams.stderr) })
        }
        if let fd = process.stdin {
          let channel = try await DescriptorChannel.pipe(read: nil, write: fd, group: group)
          inputs.append(Task { await copyInput(streams.stdin, to: channel) })
        }
      }
    } catch {
      logger.warning("Exec streams failed", metadata: ["error": "\(error)"])
      process.kill()
    }
    let code = await process.wait()
    exited.withLockedValue { $0 = true }
    await waitAll(pumps, timeout: drainTimeout)
    inputs.forEach { $0.cancel() }
    for input in inputs { await input.value }
    await streams.stdout?.finish()
    await streams.stderr?.finish()
    await streams.finish(code == 0 ? .success : .exitCode(code))
    watcher.cancel()
  }

  static func attach(_ endpoint: AttachEndpoint, streams: RemoteCommandStreams, group: EventLoopGroup, logger: Logger)
    async
  {
    let channel: DescriptorChannel.Bytes
    do {
      let fd = try LocalDial.seqpacket(directory: endpoint.directory, name: endpoint.socketName)
      // conmon sends packets of at most 8 KiB plus the stream byte.
      channel = try await DescriptorChannel.socket(fd, group: group, packetSize: 64 * 1024)
    } catch {
      await streams.finish(.failure("cannot attach to container \(endpoint.containerID): \(error)"))
      return
    }
    let resizer = Task {
      guard let resize = streams.resize else { return }
      for await size in resize { endpoint.resize(width: size.width, height: size.height) }
    }
    try? await channel.executeThenClose { inbound, outbound in
      await withTaskGroup(of: Bool.self) { tasks in
        // Output ends when the container exits (conmon closes the socket).
        tasks.addTask {
          do {
            for try await var packet in inbound {
              guard let kind = packet.readInteger(as: UInt8.self) else { continue }
              let sink = kind == 3 && !endpoint.tty ? streams.stderr : streams.stdout
              try await sink?.write(packet)
            }
          } catch {}
          return true
        }
        if let stdin = streams.stdin {
          tasks.addTask {
            do {
              for try await chunk in stdin { try await outbound.write(chunk) }
            } catch {
              return true  // the client is gone
            }
            // As CRI-O: without a tty, the end of the client's stdin detaches
            // it, unless the container's stdin closes with it (stdin_once):
            // then the socket is half-closed, conmon closes the container's
            // stdin, and the output is followed to its end (as with a tty).
            if endpoint.tty { return false }
            guard endpoint.stdinOnce else { return true }
            outbound.finish()
            return false
          }
        }
        tasks.addTask {
          await CancellableWait.run(streams.clientGone)
          return true
        }
        while let done = await tasks.next() {
          if done { break }
        }
        tasks.cancelAll()
      }
    }
    resizer.cancel()
    await streams.stdout?.finish()
    await streams.stderr?.finish()
    await streams.finish(.success)
  }

  // MARK: pieces

  private static func pumpTerminal(_ channel: DescriptorChannel.Bytes, streams: RemoteCommandStreams) async {
    try? await channel.executeThenClose { inbound, outbound in
      await withTaskGroup(of: Bool.self) { tasks in
        tasks.addTask {
          // A terminal master reads EIO once the last slave closes: the end.
          do {
            for try await chunk in inbound { try await streams.stdout?.write(chunk) }
          } catch {}
          return true
        }
        if let stdin = streams.stdin {
          tasks.addTask {
            do {
              for try await chunk in stdin { try await outbound.write(chunk) }
            } catch {}
            return false
          }
        }
        while let done = await tasks.next() {
          if done { break }
        }
        tasks.cancelAll()
      }
    }
  }

  private static func copyOutput(_ channel: DescriptorChannel.Bytes, to sink: OutputSink?) async {
    try? await channel.executeThenClose { inbound, _ in
      do {
        for try await chunk in inbound { try await sink?.write(chunk) }
      } catch {}
    }
  }

  private static func copyInput(_ source: AsyncThrowingStream<ByteBuffer, Error>?, to channel: DescriptorChannel.Bytes) async {
    try? await channel.executeThenClose { _, outbound in
      if let source {
        do {
          for try await chunk in source { try await outbound.write(chunk) }
        } catch {}
      }
      // End of the client's stdin: close the process's.
      outbound.finish()
    }
  }

  /// Waits for every task, or cancels those still running after `timeout`
  /// (and, with `untilCancelled`, waits for them to wind down).
  static func waitAll(_ tasks: [Task<Void, Never>], timeout: Duration, untilCancelled: Bool = true) async {
    let finished = await firstOf(
      { for task in tasks { await task.value } },
      orAfter: timeout)
    if !finished {
      tasks.forEach { $0.cancel() }
      if untilCancelled { for task in tasks { await task.value } }
    }
  }

  /// Runs `work` and returns true when it finished within `timeout`; false
  /// otherwise (the work goes on, unawaited).
  static func firstOf(_ work: @escaping @Sendable () async -> Void, orAfter timeout: Duration) async -> Bool {
    let resumed = NIOLockedValueBox(false)
    return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
      let resume: @Sendable (Bool) -> Void = { value in
        let first = resumed.withLockedValue { done -> Bool in
          defer { done = true }
          return !done
        }
        if first { continuation.resume(returning: value) }
      }
      let worker = Task {
        await work()
        resume(true)
      }
      Task {
        try? await Task.sleep(for: timeout)
        resume(false)
        _ = worker
      }
    }
  }
}

/// Connects forwarded connections to a port inside the pod.
enum PortForwarder {
  /// Copies between the client's data stream and localhost:`port` in the
  /// pod's network namespace; failures go to the client's error stream.
  static func forward(
    port: Int32, networkNamespace: String?, input: AsyncThrowingStream<ByteBuffer, Error>, output: OutputSink,
    errors: OutputSink, podSandboxID: String, group: EventLoopGroup
  ) async {
    let dialed: Result<Int32, Error> = await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(returning: Result { try LocalDial.tcp(port: port, networkNamespace: networkNamespace) })
      }
    }
    let channel: DescriptorChannel.Bytes
    do {
      channel = try await DescriptorChannel.socket(try dialed.get(), group: group)
    } catch {
      try? await errors.write(
        ByteBuffer(string: "error forwarding port \(port) to pod \(podSandboxID): \(error)"))
      await output.finish()
      await errors.finish()
      return
    }
    try? await channel.executeThenClose { inbound, outbound in
      await withTaskGroup(of: Bool.self) { tasks in
        tasks.addTask {
          do {
            for try await chunk in input { try await outbound.write(chunk) }
            outbound.finish()  // the client half-closed: so do we
            return false
          } catch {
            return true  // reset by the client
          }
        }
        tasks.addTask {
          do {
            for try await chunk in inbound { try await output.write(chunk) }
          } catch {}
          return true
        }
        while let done = await tasks.next() {
          if done { break }
        }
        tasks.cancelAll()
      }
    }
    await output.finish()
    await errors.finish()
  }
}
