/// Why an image store operation failed.
public enum ImageStoreError: Error, Equatable, CustomStringConvertible {
  case invalidReference(String)
  case imageNotFound(String)
  case imageInUse(String)
  case corruptIndex(path: String, detail: String)
  case io(String)
  case diffIDMismatch(layer: Int, expected: String, actual: String)
  case invalidImage(String)

  public var description: String {
    switch self {
    case .invalidReference(let detail): detail
    case .imageNotFound(let name): "image \(name) not found"
    case .imageInUse(let name): "image \(name) is in use by a container"
    case .corruptIndex(let path, let detail): "image store index \(path) is corrupt: \(detail)"
    case .io(let detail): detail
    case .diffIDMismatch(let layer, let expected, let actual):
      "layer \(layer) unpacks to \(actual), but the image config says \(expected)"
    case .invalidImage(let detail): "invalid image: \(detail)"
    }
  }
}
