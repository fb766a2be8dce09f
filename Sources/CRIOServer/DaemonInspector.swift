import CRIOConfig
import CRIORuntime
import Foundation
import NIOHTTP1

/// What CRI-O's inspect endpoints answer (`crio status`, cAdvisor's CRI-O
/// client): `GET /info` (JSON), `GET /config` (the effective configuration
/// as TOML) and `GET /containers/{id}` (JSON), served on the CRI socket.
struct DaemonInspector: Sendable {
  let config: CRIOConfiguration
  let containers: ContainerManager
  let sandboxes: SandboxManager

  struct Response: Sendable, Equatable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String

    static func text(_ status: HTTPResponseStatus, _ body: String) -> Response {
      Response(status: status, contentType: "text/plain; charset=utf-8", body: body + "\n")
    }
  }

  /// Why a container lookup found nothing, with CRI-O's messages.
  enum LookupError: Error, Equatable {
    case containerNotFound(String)
    case sandboxNotFound(container: String)

    var response: Response {
      switch self {
      case .containerNotFound(let id): .text(.notFound, "can't find the container with id \(id)")
      case .sandboxNotFound(let id): .text(.notFound, "can't find the sandbox for container id \(id)")
      }
    }
  }

  static let endpoints = "/info, /config, /containers/{id}"

  func respond(method: HTTPMethod, uri: String) async -> Response {
    guard method == .GET || method == .HEAD else { return .text(.methodNotAllowed, "only GET \(Self.endpoints)") }
    let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
    switch path {
    case "/info":
      return Self.json(CrioInfo(config: config))
    case "/config":
      return Response(status: .ok, contentType: "application/toml", body: ConfigRenderer.toml(config))
    case _ where path.hasPrefix("/containers/") && path.count > "/containers/".count:
      let id = String(path.dropFirst("/containers/".count))
      do {
        return Self.json(try await containerInfo(id))
      } catch let error as LookupError {
        return error.response
      } catch {
        return .text(.internalServerError, "\(error)")
      }
    default:
      return .text(.notFound, "not found: try \(Self.endpoints)")
    }
  }

  /// A container by ID (or unique prefix); the pod's infra container by its
  /// own ID or the pod's ID, as CRI-O's infra container has the pod's ID.
  func containerInfo(_ id: String) async throws -> ContainerInfo {
    if !id.contains("/"), let record = try await containers.find(id) {
      guard let sandbox = try await sandboxes.find(record.sandboxID) else { throw LookupError.sandboxNotFound(container: id) }
      return ContainerInfo(record, name: record.displayName, pid: record.pid, sandbox: sandbox)
    }
    var infra = await containers.infraContainer(id: id)
    if infra == nil, let sandbox = try? await sandboxes.find(id), sandbox.id == id {
      infra = await containers.infraContainer(sandbox.id)
    }
    guard let infra else { throw LookupError.containerNotFound(id) }
    guard let sandbox = try await sandboxes.find(infra.sandboxID) else { throw LookupError.sandboxNotFound(container: id) }
    let pod = sandbox.spec
    return ContainerInfo(
      infra, name: "k8s_POD_\(pod.name)_\(pod.namespace)_\(pod.uid)_\(pod.attempt)", pid: infra.pid, sandbox: sandbox)
  }

  static func json(_ value: some Encodable) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    do {
      let data = try encoder.encode(value)
      return Response(status: .ok, contentType: "application/json", body: String(decoding: data, as: UTF8.self))
    } catch {
      return .text(.internalServerError, "cannot encode the answer: \(error)")
    }
  }
}
