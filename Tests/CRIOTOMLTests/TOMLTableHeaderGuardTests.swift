import CRIOTOML
import TOMLKit
import Testing

@Suite struct TOMLTableHeaderGuardTests {
  /// Headers that abort toml++ 3.4.0 (assertion in parse_key); the first was found by the
  /// registries-conf fuzz target. Each must be caught before TOMLKit sees it.
  @Test(arguments: [
    ("[.0.1:5002/mirror-a\"\ninsecure = true\n", 1, 2), ("[=]", 1, 2), ("[#]", 1, 2), ("[ .a]", 1, 3), ("[*]", 1, 2),
    ("[\n", 1, 2), ("[[\n", 1, 3), ("[\t=]", 1, 3), ("[[.a]]", 1, 3), ("[a]\nx = 1\n[ =]", 3, 3), ("[é]", 1, 2),
    ("x = \"\"\"\n\"\"\"\n[=]", 3, 2), ("x = [\n 1,\n]\n[=]", 4, 2), ("[\"a]\"]\n[=]", 2, 2),
  ])
  func findsHeadersTOMLPlusPlusCannotTake(text: String, line: Int, column: Int) {
    #expect(TOMLTableHeaderGuard.check(text) == .init(line: line, column: column))
  }

  /// Valid TOML with `[` where a header could not start: never refused.
  @Test(arguments: [
    "[a]\n[\"quoted\"]\n['lit']\n[[arr]]\n[ spaced . key ]\n[-a]\n[_b]\n[1]",
    "x = [\n[1, 2],\n[+1],\n]\n", "x = \"\"\"\n[=]\n\"\"\"\n", "x = '''\n[#]\n'''\n", "# [=]\nx = 1 # [=]\n",
    "x = \"[=]\"\ny = '[.'\n", "x = { a = [ 1 ] }\n[t]\n", "x = \"\"\"a\\\"\"\"\"\n[t]", "",
  ])
  func acceptsValidTOML(text: String) throws {
    #expect(TOMLTableHeaderGuard.check(text) == nil)
    _ = try TOMLTable(string: text)
  }
}
