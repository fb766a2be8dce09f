import Glibc
import NIOCore
import NIOPosix

/// Descriptors from the runtime (pipes, a terminal master, sockets) as
/// NIO channels, so copying them never blocks a thread and a peer that
/// stops reading simply stops the copy.
enum DescriptorChannel {
  typealias Bytes = NIOAsyncChannel<ByteBuffer, ByteBuffer>

  private static let configuration = NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration(
    isOutboundHalfClosureEnabled: true)

  /// A pipe's read end, write end, or a terminal master (both). Takes
  /// ownership of the descriptors, also on failure.
  static func pipe(read: Int32?, write: Int32?, group: EventLoopGroup) async throws -> Bytes {
    let bootstrap = NIOPipeBootstrap(group: group)
    let wrap: @Sendable (Channel) -> EventLoopFuture<Bytes> = { channel in
      channel.eventLoop.makeCompletedFuture {
        try Bytes(wrappingChannelSynchronously: channel, configuration: configuration)
      }
    }
    do {
      switch (read, write) {
      case let (read?, write?) where read == write:
        return try await bootstrap.takingOwnershipOfDescriptor(inputOutput: read, channelInitializer: wrap)
      case let (read?, write?):
        return try await bootstrap.takingOwnershipOfDescriptors(input: read, output: write, channelInitializer: wrap)
      case let (read?, nil):
        return try await bootstrap.takingOwnershipOfDescriptor(input: read, channelInitializer: wrap)
      case let (nil, write?):
        return try await bootstrap.takingOwnershipOfDescriptor(output: write, channelInitializer: wrap)
      case (nil, nil):
        preconditionFailure("a pipe channel needs a descriptor")
      }
    } catch {
      if let read { close(read) }
      if let write, write != read { close(write) }
      throw error
    }
  }

  /// A connected socket. `packetSize` sizes every read (a SOCK_SEQPACKET
  /// socket truncates a packet read into a smaller buffer).
  static func socket(_ fd: Int32, group: EventLoopGroup, packetSize: Int? = nil) async throws -> Bytes {
    var bootstrap = ClientBootstrap(group: group).channelOption(.allowRemoteHalfClosure, value: true)
    if let packetSize {
      bootstrap = bootstrap.channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: packetSize))
    }
    do {
      return try await bootstrap.withConnectedSocket(fd) { channel in
        channel.eventLoop.makeCompletedFuture {
          try Bytes(wrappingChannelSynchronously: channel, configuration: configuration)
        }
      }
    } catch {
      close(fd)
      throw error
    }
  }
}
