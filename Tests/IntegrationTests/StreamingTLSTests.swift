import CRIAPI
import CRIClient
import Foundation
import Glibc
import Testing

/// The streaming server over TLS (`stream_enable_tls`), with and without a
/// required client certificate (`stream_tls_ca`).
@Suite(.serialized) struct StreamingTLSTests {
  /// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
  struct Certificates {
    let dir: String
    var ca: String { "\(dir)/ca.pem" }
    var serverCert: String { "\(dir)/server.pem" }
    var serverKey: String { "\(dir)/server-key.pem" }
    var clientCert: String { "\(dir)/client.pem" }
    var clientKey: String { "\(dir)/client-key.pem" }

    init(in dir: String) throws {
      self.dir = dir
      let openssl = "/usr/bin/openssl"
      try #require(FileManager.default.isExecutableFile(atPath: openssl), "openssl is missing: run `make deps`")
      func run(_ arguments: [String]) throws {
        let result = try runCommand(openssl, arguments)
        try #require(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.output)")
      }
      try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/ca-key.pem", "-out", ca,
               "-days", "1", "-subj", "/CN=crio test CA"])
      for (name, subject, extensions) in [
        ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"), ("client", "/CN=kubelet", "extendedKeyUsage=clientAuth"),
      ] {
        try run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/\(name)-key.pem", "-out", "\(dir)/\(name).csr",
                 "-subj", subject])
        try "\(extensions)\n".write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
        try run(["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", ca, "-CAkey", "\(dir)/ca-key.pem",
                 "-CAcreateserial", "-out", "\(dir)/\(name).pem", "-days", "1", "-extfile", "\(dir)/\(name).ext"])
      }
    }
  }

  func portForwardURL(_ fixture: SandboxFixture) async throws -> (pod: String, url: String) {
    let pod = try await fixture.run(podConfig("tls"))
    let url = try await fixture.call {
      var request = Runtime_V1_PortForwardRequest()
      request.podSandboxID = pod
      return try await $0.runtime.portForward(request, options: $0.options).url
    }
    return (pod, url)
  }

  func shutDown(_ fixture: SandboxFixture, pod: String) async throws {
    try await fixture.stop(pod)
    try await fixture.remove(pod)
    try await fixture.stopDaemon()
  }

  func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runCommand("/usr/bin/curl", ["-s", "-S", "--max-time", "10"] + arguments)
  }

  @Test func idleConnectionsAreClosed() async throws {
    let fixture = try await SandboxFixture(extraArguments: ["--stream-idle-timeout", "1s"])
    let (pod, url) = try await portForwardURL(fixture)
    let target = try StreamURL(url)
    // A client that connects and says nothing is hung up on (well before
    // the 20 s this test waits at most).
    let ended = try await Task.detached { () throws -> Bool in
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      defer { close(fd) }
      var timeout = timeval(tv_sec: 20, tv_usec: 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = in_port_t(UInt16(target.port).bigEndian)
      address.sin_addr.s_addr = inet_addr(target.host)
      let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      guard connected == 0 else { throw HarnessError("cannot connect to \(url)") }
      var byte: UInt8 = 0
      return read(fd, &byte, 1) == 0
    }.value
    #expect(ended, "the server closed the idle connection")
    try await shutDown(fixture, pod: pod)
  }

  @Test func servesHTTPSAndCanRequireClientCertificates() async throws {
    let scratch = try DaemonDirectory()
    let certs = try Certificates(in: scratch.path)

    let open = try await SandboxFixture(extraArguments: [
      "--stream-enable-tls", "--stream-tls-cert", certs.serverCert, "--stream-tls-key", certs.serverKey,
    ])
    let (openPod, url) = try await portForwardURL(open)
    #expect(url.hasPrefix("https://127.0.0.1:"), "\(url)")
    let answered = try curl(["--cacert", certs.ca, url])
    #expect(answered.output.contains("needs an upgrade"), "TLS is served and verified: \(answered.output)")
    let plain = try curl([url.replacingOccurrences(of: "https://", with: "http://")])
    #expect(!plain.output.contains("needs an upgrade"), "no plain HTTP on a TLS port")
    try await shutDown(open, pod: openPod)

    let strict = try await SandboxFixture(extraArguments: [
      "--stream-enable-tls", "--stream-tls-cert", certs.serverCert, "--stream-tls-key", certs.serverKey,
      "--stream-tls-ca", certs.ca,
    ])
    let (strictPod, strictURL) = try await portForwardURL(strict)
    let anonymous = try curl(["--cacert", certs.ca, strictURL])
    #expect(!anonymous.output.contains("needs an upgrade"), "a client without a certificate is refused: \(anonymous.output)")
    let identified = try curl(["--cacert", certs.ca, "--cert", certs.clientCert, "--key", certs.clientKey, strictURL])
    #expect(identified.output.contains("needs an upgrade"), "\(identified.output)")
    try await shutDown(strict, pod: strictPod)
  }
}
