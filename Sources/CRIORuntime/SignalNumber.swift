import Glibc

/// Signal names as images give them (`StopSignal`: "SIGTERM", "TERM",
/// "15") to numbers. Nil for what is not understood (the OCI runtime then
/// gets the name as it is).
enum SignalNumber {
  static let names: [String: Int32] = [
    "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "IOT": SIGABRT,
    "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
    "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CONT": SIGCONT,
    "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU,
    "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGIO,
    "PWR": SIGPWR, "SYS": SIGSYS,
  ]

  static func parse(_ text: String) -> Int32? {
    if let number = Int32(text) { return number > 0 && number < 65 ? number : nil }
    var name = text.uppercased()
    if name.hasPrefix("SIG") { name.removeFirst(3) }
    return names[name]
  }
}
