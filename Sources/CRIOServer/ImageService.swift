import CRIAPI
import CRIOImage
import Dispatch
import CRIORegistry
import CRIORuntime
import Foundation
import GRPCCore
import OCI

/// The CRI `ImageService`: pull, inspect, list and remove images, and report
/// the image store's usage.
public struct ImageService: Runtime_V1_ImageService.SimpleServiceProtocol {
  let store: ImageStore
  let puller: ImagePuller
  /// Images the kubelet must never garbage-collect (the pause image, `pinned_images`).
  let pinned: PinnedImages
  let containers: ContainerManager

  public init(puller: ImagePuller, containers: ContainerManager, pinned: PinnedImages) {
    self.store = puller.store
    self.puller = puller
    self.containers = containers
    self.pinned = pinned
  }

  public func pullImage(
    request: Runtime_V1_PullImageRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_PullImageResponse {
    let name = request.image.image
    guard !name.isEmpty else { throw CRIError.invalidArgument("PullImage needs an image name") }
    let auth = request.auth
    let credentials: RegistryCredentials?
    do {
      credentials = try RegistryCredentials.from(
        username: auth.username, password: auth.password, auth: auth.auth, identityToken: auth.identityToken,
        registryToken: auth.registryToken)
    } catch {
      throw CRIError.invalidArgument("invalid credentials for \(name): \(error)")
    }
    let record = try await puller.pull(name, credentials: credentials)
    var response = Runtime_V1_PullImageResponse()
    response.imageRef = record.id
    return response
  }

  public func imageStatus(
    request: Runtime_V1_ImageStatusRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ImageStatusResponse {
    var response = Runtime_V1_ImageStatusResponse()
    guard !request.image.image.isEmpty else { throw CRIError.invalidArgument("ImageStatus needs an image") }
    guard let record = await store.lookup(request.image.image) else { return response }
    response.image = criImage(record)
    if request.verbose {
      response.info["info"] = await verboseInfo(record)
    }
    return response
  }

  public func listImages(
    request: Runtime_V1_ListImagesRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ListImagesResponse {
    var response = Runtime_V1_ListImagesResponse()
    let filter = request.filter.image.image
    if filter.isEmpty {
      response.images = await store.list().map(criImage)
    } else if let record = await store.lookup(filter) {
      response.images = [criImage(record)]
    }
    return response
  }

  public func removeImage(
    request: Runtime_V1_RemoveImageRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_RemoveImageResponse {
    let name = request.image.image
    guard !name.isEmpty else { throw CRIError.invalidArgument("RemoveImage needs an image") }
    // Removing an image that is not there succeeds: the kubelet retries removals.
    let users = await containers.imageUsers()
    do {
      _ = try await store.remove(name) { users[$0] != nil }
    } catch ImageStoreError.imageInUse {
      // Say who: a container, or a container's image volume (as CRI-O does).
      let user = await store.lookup(name).flatMap { users[$0.id] } ?? "a container"
      throw CRIError.failedPrecondition("image \(name) is in use by \(user)")
    }
    return Runtime_V1_RemoveImageResponse()
  }

  public func imageFsInfo(
    request: Runtime_V1_ImageFsInfoRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ImageFsInfoResponse {
    let layout = store.layout
    // Walking the store is blocking I/O: a Dispatch thread does it, not one of the cooperative ones.
    let usage = await withCheckedContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(returning: layout.usage()) }
    }
    var filesystem = Runtime_V1_FilesystemUsage()
    filesystem.timestamp = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
    filesystem.fsID.mountpoint = layout.imagesDir
    filesystem.usedBytes.value = usage.bytes
    filesystem.inodesUsed.value = usage.inodes
    var response = Runtime_V1_ImageFsInfoResponse()
    response.imageFilesystems = [filesystem]
    response.containerFilesystems = [filesystem]
    return response
  }

  private func criImage(_ record: ImageRecord) -> Runtime_V1_Image {
    var image = Runtime_V1_Image()
    image.id = record.id
    image.repoTags = record.repoTags
    image.repoDigests = record.repoDigests
    image.size = UInt64(max(0, record.size))
    let user = record.userID
    if let uid = user.uid {
      image.uid.value = uid
    }
    image.username = user.username
    image.spec.image = record.id
    image.pinned = pinned.matches(record.repoTags)
    return image
  }

  /// CRI-O's verbose `info`: the image's names and its config as JSON.
  private func verboseInfo(_ record: ImageRecord) async -> String {
    var info: [String: Any] = [
      "id": record.id, "repoTags": record.repoTags, "repoDigests": record.repoDigests,
      "layers": record.layers, "manifestDigest": record.manifestDigest,
    ]
    if let config = await store.readBlob(record.configDigest),
       let object = try? JSONSerialization.jsonObject(with: config)
    {
      info["imageSpec"] = object
    }
    let data = (try? JSONSerialization.data(withJSONObject: info, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }
}
