import CRIOSystem
import Foundation
import Glibc

/// Image volumes (CRI `Mount.image`, KEP-4639): a mount whose source is an
/// image of the store. As CRI-O does, the image must have been pulled (the
/// kubelet pulls it first, with the pod's credentials and pull policy); its
/// layers are mounted as a read-only overlay (lower directories only) at
/// `<root>/overlay-containers/<id>/volumes/<n>`, and that (or its
/// `image_sub_path`) is bound read-only into the container.
enum ImageVolumes {
  /// The directory of a container's image volume mounts.
  static func directory(layerDirectory: String) -> String { "\(layerDirectory)/volumes" }

  /// A sub path must be relative and stay inside the image: no absolute
  /// path, no `..` component (the kubelet checks this too).
  static func validate(subPath: String, image: String) throws {
    guard !subPath.isEmpty else { return }
    guard !subPath.hasPrefix("/") else {
      throw ContainerError.invalid("image_sub_path \(subPath) of image volume \(image) must be a relative path")
    }
    guard !subPath.split(separator: "/").contains("..") else {
      throw ContainerError.invalid("image_sub_path \(subPath) of image volume \(image) must not contain '..'")
    }
  }

  /// Mounts every image volume among `mounts` under `directory` and returns
  /// the mounts with `hostPath` set to what is bound into the container
  /// (the mount, or its sub path) and `readonly` set.
  ///
  /// In a pod with a user namespace (`userns`, its pin), the overlay is over
  /// idmapped copies of the layers, `<directory>/<n>-layers/<k>` (as the
  /// rootfs is, see `UserNamespaceSupport.mountOverlay`), so the image's
  /// files owned by 0 are the container root's. Everything stays under the
  /// container's layer directory: removal, rollback and recovery detach it
  /// with the rest (`DirectoryMounts.unmountAll`).
  static func mount(
    _ mounts: [ContainerSpec.Mount], under directory: String, userns: String? = nil
  ) throws -> [ContainerSpec.Mount] {
    guard mounts.contains(where: { $0.image != nil }) else { return mounts }
    // overlayfs without an upper directory needs at least two lower ones.
    let empty = "\(directory)/empty"
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    var result = mounts
    for (index, mount) in mounts.enumerated() {
      guard let image = mount.image else { continue }
      try validate(subPath: image.subPath, image: image.name)
      let target = "\(directory)/\(index)"
      try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
      do {
        var lowers = image.layers.reversed() as [String]
        if let userns {
          lowers = try UserNamespaceSupport.idmappedCopies(of: lowers, under: "\(directory)/\(index)-layers", userns: userns)
        }
        try OverlayMount.mountReadOnly(lowerDirectories: lowers + [empty], target: target)
      } catch {
        throw ContainerError.runtimeFailed("image volume \(image.name) for \(mount.containerPath): \(error)")
      }
      result[index].hostPath = try source(root: target, subPath: image.subPath, image: image.name)
      result[index].readonly = true
    }
    return result
  }

  /// `root` followed by `subPath`, which must exist and must not go through
  /// a symbolic link: the OCI runtime resolves a bind mount's source on the
  /// host, where a link inside the image could point anywhere. The overlay
  /// is read-only and its layers are crio's, so what is checked here stays so.
  static func source(root: String, subPath: String, image: String) throws -> String {
    try validate(subPath: subPath, image: image)
    var path = root
    for component in subPath.split(separator: "/") where component != "." {
      path += "/\(component)"
      var info = stat()
      guard lstat(path, &info) == 0 else {
        throw ContainerError.invalid("image_sub_path \(subPath) does not exist in image volume \(image)")
      }
      guard info.st_mode & S_IFMT != S_IFLNK else {
        throw ContainerError.invalid(
          "image_sub_path \(subPath) of image volume \(image) goes through the symbolic link \(component)")
      }
    }
    return path
  }
}

/// Unmounting what crio mounted under a directory.
enum DirectoryMounts {
  /// Unmounts every mount at or below `directory` (this process's mount
  /// table), deepest first and the latest first among equals, lazily
  /// (MNT_DETACH), until none is left: the rootfs and image volumes of a
  /// container, found without a record after a crash too.
  static func unmountAll(under directory: String) {
    // Never the whole host (an empty or root path would match every mount).
    guard directory.hasPrefix("/"), directory.split(separator: "/").count >= 2 else { return }
    for _ in 0..<8 {
      let points = MountInfoEntry.current().enumerated()
        .filter { $0.element.mountPoint == directory || $0.element.mountPoint.hasPrefix(directory + "/") }
        .sorted {
          let (a, b) = ($0.element.mountPoint.split(separator: "/").count, $1.element.mountPoint.split(separator: "/").count)
          return a != b ? a > b : $0.offset > $1.offset
        }
        .map(\.element.mountPoint)
      if points.isEmpty { return }
      for point in points { TmpfsMount.unmount(point) }
    }
  }
}
