/// Runs at most one operation per key at a time: a caller that asks for a key
/// already in progress waits for that operation's result instead of starting
/// its own (N pods pulling one cold image download it once).
actor InFlight<Value: Sendable> {
  private var running: [String: Task<Value, any Error>] = [:]

  func run(_ key: String, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
    if let task = running[key] { return try await task.value }
    let task = Task { try await operation() }
    running[key] = task
    defer { running[key] = nil }
    return try await task.value
  }
}
