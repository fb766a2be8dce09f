/// Rewrites the checksum of every 512-byte block that looks like a tar header
/// (ustar or GNU magic), so that mutated headers reach the parser's later
/// checks instead of all failing at the checksum. Leaves a quarter of the
/// inputs alone, so bad checksums are fuzzed too.
public enum TarChecksum {
  public static func fixup(_ bytes: [UInt8], rng: inout SplitMix64) -> [UInt8] {
    if rng.oneIn(4) { return bytes }
    var out = bytes
    var offset = 0
    while offset + 512 <= out.count {
      if out[(offset + 257)..<(offset + 262)].elementsEqual("ustar".utf8) {
        var sum = 0
        for i in 0..<512 {
          sum += (148..<156).contains(i) ? 0x20 : Int(out[offset + i])
        }
        let octal = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: max(0, 6 - octal.count)) + octal.suffix(6) + [0, 0x20]
        out.replaceSubrange((offset + 148)..<(offset + 156), with: field)
      }
      offset += 512
    }
    return out
  }
}
