import ArgumentParser
import CRIAPI
import CRIClient
import Foundation

struct PullVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image.")
  @ParentCommand var root: Crioctl
  @Argument(help: "The image, e.g. registry.k8s.io/pause:3.10.") var image: String
  @Option(help: "Credentials as USERNAME[:PASSWORD].") var creds: String?
  @Option(help: "Base64 of USERNAME:PASSWORD.") var auth: String?
  @Option(help: "A registry bearer token.") var registryToken: String?
  @Option(help: "An identity (refresh) token.") var identityToken: String?

  func run() async throws {
    var request = Runtime_V1_PullImageRequest()
    request.image.image = image
    if let creds {
      let parts = creds.split(separator: ":", maxSplits: 1)
      request.auth.username = String(parts.first ?? "")
      request.auth.password = parts.count > 1 ? String(parts[1]) : ""
    }
    if let auth { request.auth.auth = auth }
    if let registryToken { request.auth.registryToken = registryToken }
    if let identityToken { request.auth.identityToken = identityToken }
    let global = root.global
    // Pulls take longer than other calls: at least a minute.
    let response = try await global.call(try global.image(), minimumTimeout: 60) {
      try await $0.image.pullImage(request, options: $0.options)
    }
    print("Image is up to date for \(response.imageRef)")
  }
}

struct ImagesVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "images", abstract: "List images.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Only this image (name or ID).") var image: String?
  @Flag(name: .shortAndLong, help: "Only image IDs.") var quiet = false
  @Flag(help: "Show digests.") var digests = false
  @Flag(help: "Show full image IDs.") var noTrunc = false
  @Option(name: .shortAndLong, help: "table, json or yaml.") var output: OutputFormat = .table

  func run() async throws {
    var request = Runtime_V1_ListImagesRequest()
    if let image { request.filter.image.image = image }
    let global = root.global
    let response = try await global.call(try global.image()) {
      try await $0.image.listImages(request, options: $0.options)
    }
    let images = response.images.sorted { ($0.repoTags.first ?? $0.id) < ($1.repoTags.first ?? $1.id) }
    switch output {
    case .json: print(try Rendering.json(Rendering.object(from: response)))
    case .yaml: print(Rendering.yaml(try Rendering.object(from: response)))
    case .table:
      if quiet {
        for image in images { print(image.id) }
        return
      }
      var rows = [["IMAGE", "TAG"] + (digests ? ["DIGEST"] : []) + ["IMAGE ID", "SIZE"]]
      for image in images {
        let id = noTrunc ? image.id : String(image.id.prefix(13))
        let names = image.repoTags.isEmpty ? ["<none>:<none>"] : image.repoTags
        for name in names {
          let colon = name.lastIndex(of: ":")!
          let digest = image.repoDigests.first.flatMap { $0.split(separator: "@").last.map(String.init) } ?? "<none>"
          let shortDigest = noTrunc ? digest : String(digest.dropFirst("sha256:".count).prefix(13))
          rows.append([String(name[..<colon]), String(name[name.index(after: colon)...])]
                      + (digests ? [shortDigest] : []) + [id, Table.size(image.size)])
        }
      }
      Table.print(rows)
    }
  }
}

struct InspectImageVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspecti", abstract: "Show an image's status and config.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Image names or IDs.") var images: [String]
  @Option(name: .shortAndLong, help: "json or yaml.") var output: OutputFormat = .json

  func run() async throws {
    let global = root.global
    var failed = false
    for image in images {
      var request = Runtime_V1_ImageStatusRequest()
      request.image.image = image
      request.verbose = true
      let response = try await global.call(try global.image()) {
        try await $0.image.imageStatus(request, options: $0.options)
      }
      guard response.hasImage else {
        FileHandle.standardError.write(Data("crioctl: no such image \(image)\n".utf8))
        failed = true
        continue
      }
      var object: [String: Any] = ["status": try Rendering.object(from: response.image)]
      for (key, value) in response.info {
        object[key] = (try? JSONSerialization.jsonObject(with: Data(value.utf8))) ?? value
      }
      print(output == .yaml ? Rendering.yaml(object) : try Rendering.json(object))
    }
    if failed { throw ExitCode(1) }
  }
}

struct RemoveImageVerb: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove images.")
  @ParentCommand var root: Crioctl
  @Argument(help: "Image names or IDs.") var images: [String]

  func run() async throws {
    let global = root.global
    try await global.forEach(images, on: try global.image(), done: { "Deleted: \($0)" }) { connection, image in
      var request = Runtime_V1_RemoveImageRequest()
      request.image.image = image
      _ = try await connection.image.removeImage(request, options: connection.options)
    }
  }
}

/// Plain-text tables as crictl prints them: columns padded with three spaces.
enum Table {
  static func print(_ rows: [[String]]) {
    guard let header = rows.first else { return }
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for row in rows {
      let line = row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0)
      }.joined()
      Swift.print(line)
    }
  }

  /// `1.23MB` the way crictl (and docker) print sizes: decimal units.
  static func size(_ bytes: UInt64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    return unit == 0 ? "\(bytes)B" : String(format: "%.3g%@", value, units[unit])
  }
}
