import CRIClient
import Testing

@Suite struct CRILogTests {
  @Test func parsesFullAndPartialRecords() throws {
    let full = try #require(CRILogRecord.parse(Array("2016-10-06T00:17:09.669794202Z stdout F hello world".utf8)))
    #expect(full == CRILogRecord(
      timestamp: "2016-10-06T00:17:09.669794202Z", stream: .stdout, partial: false, content: Array("hello world".utf8)))
    let partial = try #require(CRILogRecord.parse(Array("2026-11-29T13:55:06.455903474+00:00 stderr P part".utf8)))
    #expect(partial.stream == .stderr && partial.partial && partial.content == Array("part".utf8))
    let empty = try #require(CRILogRecord.parse(Array("2026-11-29T13:55:06.455903474+00:00 stdout F ".utf8)))
    #expect(empty.content.isEmpty)
    let tagged = try #require(CRILogRecord.parse(Array("t stdout F:x y".utf8)), "':' in the tag is reserved")
    #expect(tagged.content == Array("y".utf8))
    #expect(CRILogRecord.parse(Array("garbage".utf8)) == nil)
    #expect(CRILogRecord.parse(Array("t stdin F x".utf8)) == nil)
    #expect(CRILogRecord.parse(Array("t stdout X x".utf8)) == nil)
  }

  @Test func rendersAsCrictlPrints() {
    let partial = CRILogRecord(timestamp: "T", stream: .stdout, partial: true, content: Array("ab".utf8))
    let full = CRILogRecord(timestamp: "T", stream: .stdout, partial: false, content: Array("cd".utf8))
    #expect(partial.rendered(timestamps: false) + full.rendered(timestamps: false) == Array("abcd\n".utf8))
    #expect(full.rendered(timestamps: true) == Array("T cd\n".utf8))
  }

  @Test func splitsChunksIntoLinesKeepingTheUnfinishedOne() {
    var splitter = CRILogLineSplitter()
    #expect(splitter.lines(Array("a\nb".utf8)) == [Array("a".utf8)])
    #expect(splitter.lines(Array("c\n\nd".utf8)) == [Array("bc".utf8), []])
    #expect(splitter.rest() == Array("d".utf8))
    #expect(splitter.rest() == nil)
  }
}
