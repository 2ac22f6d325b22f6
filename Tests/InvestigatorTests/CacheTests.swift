import Foundation
import Testing

@testable import Investigator

@Suite struct CacheTests {
    func entry(_ name: String, frames: Int, complete: Bool = true) -> CacheEntry {
        var embeddings = FrameEmbeddings(dimension: 4, interval: 0.5)
        for k in 0..<frames {
            embeddings.append(time: Double(k) * 0.5, frame: k * 5, embedding: [Float(k), 1, -2, 0.25])
        }
        return CacheEntry(
            key: CacheKey(content: name, model: "m", sampling: "fps=2.0", precision: "fp32"), videoFPS: 10,
            complete: complete, embeddings: embeddings, sourceName: name)
    }

    @Test func anEntryReadsBackAsWritten() throws {
        let folder = try temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = EmbeddingCache(folder: folder)
        let written = entry("a", frames: 7, complete: false)
        try cache.store(written)
        let (read, damaged) = cache.load(written.key)
        #expect(damaged == nil)
        let got = try #require(read)
        #expect(got.complete == false)
        #expect(got.embeddings.values == written.embeddings.values)
        #expect(got.embeddings.times == written.embeddings.times)
        #expect(got.embeddings.frames == written.embeddings.frames)
        // Another key (another precision) finds nothing.
        var other = written.key
        other.precision = "int8"
        #expect(cache.load(other).entry == nil)
    }

    @Test func leastRecentlyUsedEntriesGoFirst() throws {
        let folder = try temporaryFolder("cache-lru")
        defer { try? FileManager.default.removeItem(at: folder) }
        let unlimited = EmbeddingCache(folder: folder, limit: .max)
        for name in ["old", "used", "new"] { try unlimited.store(entry(name, frames: 100)) }
        let size = try #require(unlimited.entries().first?.bytes)
        // Ages: "old" and "used" an hour ago, "new" now; then "used" is read, which makes it recent.
        for name in ["old", "used"] {
            let url = unlimited.url(for: entry(name, frames: 0).key)
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: url.path)
        }
        #expect(unlimited.load(entry("used", frames: 0).key).entry != nil)
        let limited = EmbeddingCache(folder: folder, limit: Int64(size * 2))
        let removed = limited.evict()
        #expect(removed == [limited.url(for: entry("old", frames: 0).key).path])
        #expect(limited.entries().count == 2)
    }
}
