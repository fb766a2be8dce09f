import CRIOTOML
import TOMLKit
import Testing

@Suite struct TOMLCrashGuardTests {
  /// Headers that abort toml++ 3.4.0 (assertion in parse_key); the first was found by the
  /// registries-conf fuzz target. Each must be caught before TOMLKit sees it.
  @Test(arguments: [
    ("[.0.1:5002/mirror-a\"\ninsecure = true\n", 1, 2), ("[=]", 1, 2), ("[#]", 1, 2), ("[ .a]", 1, 3), ("[*]", 1, 2),
    ("[\n", 1, 2), ("[[\n", 1, 3), ("[\t=]", 1, 3), ("[[.a]]", 1, 3), ("[a]\nx = 1\n[ =]", 3, 3), ("[\u{e9}]", 1, 2),
    ("x = \"\"\"\n\"\"\"\n[=]", 3, 2), ("x = [\n 1,\n]\n[=]", 4, 2), ("[\"a]\"]\n[=]", 2, 2),
  ])
  func findsHeadersTOMLPlusPlusCannotTake(text: String, line: Int, column: Int) {
    #expect(TOMLCrashGuard.check(text) == .init(line: line, column: column))
  }

  /// Date-times that abort toml++ 3.4.0 (assertion in parse_time); the first was found by the
  /// crio-conf fuzz target.
  @Test(arguments: [
    ("[c.io]\nroot =1979-05-27T\u{80}7:32:00Z", 2, 17), ("a=1979-05-27T:", 1, 13), ("a=1979-05-27t:", 1, 13),
    ("a=[1979-05-27T:]", 1, 14), ("a={b=1979-05-27T:}", 1, 16), ("a = 1979-05-27T", 1, 15),
  ])
  func findsDateTimesTOMLPlusPlusCannotTake(text: String, line: Int, column: Int) {
    #expect(TOMLCrashGuard.check(text) == .init(line: line, column: column, reason: .timeWithoutDigits))
  }

  /// Arrays that abort toml++ 3.4.0 (assertion in parse_value); the first was found by the
  /// registries-conf fuzz target.
  @Test(arguments: [
    ("unqualified-search-registries = [\"127.0.0.1:5000\",}\"docker.io\"]", 1, 51, TOMLCrashGuard.Problem.Reason.braceInArray),
    ("a = [}", 1, 6, .braceInArray), ("a = [ # c\n}", 2, 1, .braceInArray), ("a = {b=[}", 1, 9, .braceInArray),
    ("a = [1,\u{2028}]", 1, 8, .nonASCII), ("a = [\u{a0}1]", 1, 6, .nonASCII), ("k\u{e9} = 1", 1, 2, .nonASCII),
  ])
  func findsArraysTOMLPlusPlusCannotTake(text: String, line: Int, column: Int, reason: TOMLCrashGuard.Problem.Reason) {
    #expect(TOMLCrashGuard.check(text) == .init(line: line, column: column, reason: reason))
  }

  /// NUL escapes: TOMLKit loses a key that holds one and then force-unwraps nil while iterating
  /// its table. The first was found by the registries-conf fuzz target.
  @Test(arguments: [
    ("[aliases]\n\"pau\\u0000se\" = \"registry.k8s.io/pause\"", 2, 5), ("a = \"\\U00000000\"", 1, 6),
    ("[\"a\\u0000\"]", 1, 4), ("a = \"\"\"\nx\\u0000\"\"\"", 2, 2),
  ])
  func findsNulEscapes(text: String, line: Int, column: Int) {
    #expect(TOMLCrashGuard.check(text) == .init(line: line, column: column, reason: .nulEscape))
  }

  /// Valid TOML where a header or a date-time could not start: never refused.
  @Test(arguments: [
    "[a]\n[\"quoted\"]\n['lit']\n[[arr]]\n[ spaced . key ]\n[-a]\n[_b]\n[1]",
    "x = [\n[1, 2],\n[+1],\n]\n", "x = \"\"\"\n[=]\n\"\"\"\n", "x = '''\n[#]\n'''\n", "# [=]\nx = 1 # [=]\n",
    "x = \"[=]\"\ny = '[.'\n", "x = { a = [ 1 ] }\n[t]\n", "x = \"\"\"a\\\"\"\"\"\n[t]", "",
    "a = [{}, { b = [1, 2] }]\ns = \"\u{e9}\u{2028}\" # \u{e9}\u{2028}\n",
    "a = \"\\u0001\\u00010\"\nb = '\\u0000'\n",
    "1t = 1979-05-27T07:32:00Z\nx = { 2t = 1979-05-27t07:32:00, 3t = [1979-05-27] }\n[a.4t]\ny = \"5t:\"\n",
  ])
  func acceptsValidTOML(text: String) throws {
    #expect(TOMLCrashGuard.check(text) == nil)
    _ = try TOMLTable(string: text)
  }
}
