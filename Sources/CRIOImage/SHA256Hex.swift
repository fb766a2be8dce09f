import Crypto

/// `sha256:<hex>` digests of in-memory bytes.
public enum SHA256Hex {
  public static func digest(of bytes: [UInt8]) -> String {
    "sha256:" + hex(SHA256.hash(data: bytes))
  }

  public static func hex(_ digest: SHA256.Digest) -> String {
    var out = ""
    out.reserveCapacity(64)
    let table = Array("0123456789abcdef".utf8)
    for byte in digest {
      out.unicodeScalars.append(Unicode.Scalar(table[Int(byte >> 4)]))
      out.unicodeScalars.append(Unicode.Scalar(table[Int(byte & 0xF)]))
    }
    return out
  }
}
