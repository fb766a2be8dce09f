import CRIOSystem
import Foundation
import Glibc
import OCI
import Testing

@testable import CRIORuntime

/// Image volumes without a daemon: sub path checks, the read-only overlay
/// (needs root: mount(2)), unmounting everything under a directory, the OCI
/// mount and the record format.
@Suite(.serialized) struct ImageVolumeUnitTests {
  static func temporaryDirectory() throws -> String {
    let path = "\(NSTemporaryDirectory())crio-imagevolume-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test func subPathsMustBeRelativeWithoutDotDot() throws {
    for good in ["", "a", "a/b", "./a", "a/./b", "a..b", "..a"] {
      #expect(throws: Never.self, "\(good)") { try ImageVolumes.validate(subPath: good, image: "img") }
    }
    for bad in ["/a", "..", "../a", "a/..", "a/../b", "a/../../etc"] {
      #expect(throws: ContainerError.self, "\(bad)") { try ImageVolumes.validate(subPath: bad, image: "img") }
    }
  }

  @Test func aSubPathMustExistAndNotGoThroughASymbolicLink() throws {
    let root = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createDirectory(atPath: "\(root)/dir/deeper", withIntermediateDirectories: true)
    try "x".write(toFile: "\(root)/dir/file", atomically: true, encoding: .utf8)
    #expect(symlink("/etc", "\(root)/escape") == 0)
    #expect(symlink("dir", "\(root)/inside") == 0)
    #expect(try ImageVolumes.source(root: root, subPath: "", image: "img") == root)
    #expect(try ImageVolumes.source(root: root, subPath: "dir/deeper", image: "img") == "\(root)/dir/deeper")
    #expect(try ImageVolumes.source(root: root, subPath: "./dir//file", image: "img") == "\(root)/dir/file")
    for (bad, reason) in [
      ("escape", "symbolic link"), ("escape/passwd", "symbolic link"), ("inside/file", "symbolic link"),
      ("missing", "does not exist"), ("dir/file/x", "does not exist"), ("dir/../escape", "'..'"),
    ] {
      let error = #expect(throws: ContainerError.self, "\(bad)") { try ImageVolumes.source(root: root, subPath: bad, image: "img") }
      #expect(error?.description.contains(reason) == true, "\(bad): \(String(describing: error))")
    }
  }

  @Test func volumesAreReadOnlyOverlaysOfTheLayersAndAllAreUnmounted() throws {
    #expect(geteuid() == 0, "mounting overlays needs root")
    let base = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: base) }
    for layer in ["bottom", "top"] {
      try FileManager.default.createDirectory(atPath: "\(base)/\(layer)/sub", withIntermediateDirectories: true)
    }
    try "bottom\n".write(toFile: "\(base)/bottom/file", atomically: true, encoding: .utf8)
    try "shadowed\n".write(toFile: "\(base)/bottom/sub/both", atomically: true, encoding: .utf8)
    try "top\n".write(toFile: "\(base)/top/sub/both", atomically: true, encoding: .utf8)
    let layerDirectory = "\(base)/container"
    let image = ContainerSpec.ImageVolume(name: "img", id: "abc", layers: ["\(base)/bottom", "\(base)/top"])
    var withSubPath = image
    withSubPath.subPath = "sub"
    let mounts = [
      ContainerSpec.Mount(containerPath: "/bind", hostPath: "/tmp", readonly: false),
      ContainerSpec.Mount(containerPath: "/data", hostPath: "", readonly: false, image: image),
      ContainerSpec.Mount(containerPath: "/sub", hostPath: "", readonly: true, image: withSubPath),
    ]
    let volumes = ImageVolumes.directory(layerDirectory: layerDirectory)
    let mounted = try ImageVolumes.mount(mounts, under: volumes)
    defer { DirectoryMounts.unmountAll(under: layerDirectory) }
    #expect(mounted[0] == mounts[0])
    #expect(mounted[1].hostPath == "\(volumes)/1" && mounted[1].readonly)
    #expect(mounted[2].hostPath == "\(volumes)/2/sub" && mounted[2].readonly)
    // The top layer wins; the bottom one shows through.
    #expect(try String(contentsOfFile: "\(volumes)/1/file", encoding: .utf8) == "bottom\n")
    #expect(try String(contentsOfFile: "\(volumes)/1/sub/both", encoding: .utf8) == "top\n")
    // Read-only: writing fails with EROFS, and the layers are untouched.
    let fd = open("\(volumes)/1/new", O_WRONLY | O_CREAT, 0o644)
    let error = errno
    #expect(fd == -1 && error == EROFS, "\(fd) \(error)")
    #expect(!FileManager.default.fileExists(atPath: "\(base)/top/new"))

    // A bind mount stacked below a volume, as a subpath mount would be: deepest first, all gone.
    #expect(Glibc.mount("\(base)/bottom", "\(volumes)/1/sub", nil, UInt(MS_BIND), nil) == 0)
    #expect(MountInfoEntry.current().filter { $0.mountPoint.hasPrefix(layerDirectory + "/") }.count == 3)
    DirectoryMounts.unmountAll(under: layerDirectory)
    #expect(MountInfoEntry.current().filter { $0.mountPoint.hasPrefix(layerDirectory + "/") }.isEmpty)
    try FileManager.default.removeItem(atPath: layerDirectory)
    #expect(try String(contentsOfFile: "\(base)/bottom/file", encoding: .utf8) == "bottom\n")
  }

  @Test func aFailedVolumeMountSaysWhichImageAndMount() throws {
    #expect(geteuid() == 0, "mounting overlays needs root")
    let base = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: base) }
    let image = ContainerSpec.ImageVolume(name: "gone:1", id: "abc", layers: ["\(base)/no-such-layer"])
    let error = #expect(throws: ContainerError.self) {
      try ImageVolumes.mount(
        [ContainerSpec.Mount(containerPath: "/data", hostPath: "", readonly: true, image: image)], under: "\(base)/volumes")
    }
    #expect(error?.description.contains("gone:1") == true && error?.description.contains("/data") == true)
    #expect(MountInfoEntry.current().filter { $0.mountPoint.hasPrefix(base + "/") }.isEmpty)
  }

  @Test func theOCIMountIsAPrivateReadOnlyBindAndDoesNotSetRootfsPropagation() {
    let volume = ContainerSpec.Mount(
      containerPath: "/data", hostPath: "/root/overlay-containers/x/volumes/0", readonly: true,
      propagation: .bidirectional, image: .init(name: "img", id: "abc", layers: []))
    let oci = BindMounts.ociMount(volume)
    #expect(oci.type == "bind" && oci.source == volume.hostPath && oci.destination == "/data")
    #expect(oci.options == ["rbind", "rprivate", "ro"])
    #expect(BindMounts.rootfsPropagation([volume]) == nil)
  }

  @Test func recordsWithoutImageVolumesStillDecodeAndVolumesRoundTrip() throws {
    let old = #"{"containerPath":"/a","hostPath":"/b","readonly":true}"#
    let decoded = try JSONDecoder().decode(ContainerSpec.Mount.self, from: Data(old.utf8))
    #expect(decoded.image == nil && decoded.hostPath == "/b")
    let volume = ContainerSpec.Mount(
      containerPath: "/data", hostPath: "/v/0/sub", readonly: true,
      image: .init(name: "registry.test/data:1", id: "abc", layers: ["/l/1", "/l/2"], subPath: "sub"))
    let again = try JSONDecoder().decode(ContainerSpec.Mount.self, from: JSONEncoder().encode(volume))
    #expect(again == volume)
  }
}
