/// The version of this crio build, reported by `crio version` and the CRI `Version` RPC.
public enum CRIOVersion {
  public static let version = "0.1.0"
  /// The version of the kubelet runtime API the `Version` RPC reports (as CRI-O does).
  public static let kubeletAPIVersion = "0.1.0"
  /// The CRI API version served.
  public static let runtimeAPIVersion = "v1"
  public static let runtimeName = "crio"
}
