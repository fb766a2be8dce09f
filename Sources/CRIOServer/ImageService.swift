import CRIAPI
import CRIOImage
import Foundation
import GRPCCore

/// The CRI `ImageService`. RPCs without an implementation yet live in
/// `ImageService+Unimplemented.swift`.
public struct ImageService: Runtime_V1_ImageService.SimpleServiceProtocol {
  let store: ImageStoreLayout

  public init(store: ImageStoreLayout) {
    self.store = store
  }

  public func imageFsInfo(
    request: Runtime_V1_ImageFsInfoRequest,
    context: ServerContext
  ) async throws -> Runtime_V1_ImageFsInfoResponse {
    let usage = store.usage()
    var filesystem = Runtime_V1_FilesystemUsage()
    filesystem.timestamp = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
    filesystem.fsID.mountpoint = store.imagesDir
    filesystem.usedBytes.value = usage.bytes
    filesystem.inodesUsed.value = usage.inodes
    var response = Runtime_V1_ImageFsInfoResponse()
    response.imageFilesystems = [filesystem]
    response.containerFilesystems = [filesystem]
    return response
  }
}
