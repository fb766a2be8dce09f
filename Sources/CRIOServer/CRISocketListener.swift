import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOHTTP1
import NIOPosix

/// The CRI socket's listener for grpc-swift's custom HTTP/2 transport: it
/// accepts on the already bound, listening unix socket and puts a
/// `ProtocolSniffer` in front of each connection's gRPC pipeline, so the
/// same socket also answers `crio status` (HTTP/1: `/info`, `/config`,
/// `/containers/{id}`), as CRI-O's does.
struct CRISocketListener: HTTP2ServerTransport.ListenerFactory {
  let listeningSocket: Int32
  let eventLoopGroup: any EventLoopGroup
  let inspector: DaemonInspector

  func makeListeningChannel(
    listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
    connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
  ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
    let inspector = self.inspector
    return try await ServerBootstrap(group: eventLoopGroup)
      .serverChannelInitializer { channel in listenerConfigurator.configure(channel: channel) }
      .bind(NIOBSDSocket.Handle(listeningSocket)) { channel in
        channel.eventLoop.makeCompletedFuture {
          let sniffer = ProtocolSniffer { pipeline, position in
            try pipeline.configureHTTPServerPipeline(position: position)
            try pipeline.addHandler(InspectHTTPHandler(inspector: inspector), position: position)
          }
          try channel.pipeline.syncOperations.addHandler(sniffer)
        }.flatMap {
          connectionConfigurator.configure(channel: channel, tls: .none)
        }
      }
  }

  /// The transport serving the CRI on this listener.
  static func transport(
    listeningSocket: Int32, inspector: DaemonInspector, maxRequestPayloadSize: Int,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) -> HTTP2ServerTransport.Custom<CRISocketListener> {
    var config = HTTP2ServerTransport.Custom<CRISocketListener>.Config.defaults
    config.rpc.maxRequestPayloadSize = maxRequestPayloadSize
    return HTTP2ServerTransport.Custom(
      listenerFactory: CRISocketListener(listeningSocket: listeningSocket, eventLoopGroup: group, inspector: inspector),
      config: config)
  }
}
