import CRIAPI
import Foundation
import Testing

@testable import CRIOStreaming

@Suite struct StreamTokensTests {
  func exec() -> StreamRequest {
    var request = Runtime_V1_ExecRequest()
    request.containerID = "abc"
    return .exec(request)
  }

  @Test func tokensAreEightURLSafeCharactersAndSingleUse() throws {
    let tokens = StreamTokens()
    let token = try tokens.issue(exec())
    #expect(token.count == 8)
    #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    #expect(tokens.isValid(token, route: "exec"))
    #expect(tokens.consume(token, route: "attach") == nil, "a token only opens its own route")
    guard case .exec(let request) = tokens.consume(token, route: "exec") else {
      Issue.record("the token did not give its request back")
      return
    }
    #expect(request.containerID == "abc")
    #expect(tokens.consume(token, route: "exec") == nil, "a token is used once")
    #expect(tokens.consume("nonsense", route: "exec") == nil)
  }

  @Test func tokensExpire() async throws {
    let tokens = StreamTokens(lifetime: .milliseconds(50))
    let token = try tokens.issue(exec())
    try await Task.sleep(for: .milliseconds(100))
    #expect(!tokens.isValid(token, route: "exec"))
    #expect(tokens.consume(token, route: "exec") == nil)
  }

  @Test func outstandingTokensAreBounded() async throws {
    let tokens = StreamTokens(lifetime: .milliseconds(100), limit: 3)
    for _ in 0..<3 { _ = try tokens.issue(exec()) }
    #expect(throws: StreamTokenError.tooManyOutstanding(3)) { try tokens.issue(exec()) }
    try await Task.sleep(for: .milliseconds(150))
    _ = try tokens.issue(exec())  // expired ones make room
    #expect(tokens.outstanding == 1)
  }
}
