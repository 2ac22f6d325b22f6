import Testing

@testable import Display

@Suite struct FontTests {
    @Test func missingFontNamesThePathAndThePackage() {
        let path = "/nonexistent/clipcam/NoSuchFont.ttf"
        #expect {
            _ = try Font(path: path)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains("fonts-dejavu-core") && text.contains("--font")
        }
    }

    @Test func notAFontIsAFreeTypeError() throws {
        #expect {
            _ = try Font(path: "/etc/hostname")
        } throws: { error in
            guard case FontError.freeTypeFailed(let call, let path, _) = error else { return false }
            return call == "FT_New_Face" && path == "/etc/hostname"
        }
    }

    @Test func loadsDejaVu() throws {
        let fonts = try loadFonts()
        #expect(fonts.regular.name == "DejaVu Sans")
        #expect(fonts.bold.name == "DejaVu Sans Bold")
        #expect(fonts.regular.hasKerning)
    }

    @Test func kerningPullsPairsTogether() throws {
        let font = try Font(path: Font.defaultRegularPath)
        let av = font.measure("AVAV", pixelSize: 40, outline: 0).width
        let a = font.measure("A", pixelSize: 40, outline: 0).width
        let v = font.measure("V", pixelSize: 40, outline: 0).width
        // Without kerning "AVAV" is at least as wide as two A's and two V's side by side, minus their side bearings.
        #expect(av < 2 * (a + v) - 6, "AVAV \(av) px vs A \(a) px, V \(v) px")
        let hh = font.measure("HH", pixelSize: 40, outline: 0).width
        let h = font.measure("H", pixelSize: 40, outline: 0).width
        #expect(hh > h + h / 2)
    }

    @Test func outlineWidensTheBoxByTwiceItsRadius() throws {
        let font = try Font(path: Font.defaultRegularPath)
        let plain = font.measure("clipcam", pixelSize: 30, outline: 0)
        let outlined = font.measure("clipcam", pixelSize: 30, outline: 3)
        #expect(outlined.height == plain.height + 6)
        #expect(abs(outlined.width - plain.width - 6) <= 1)
        let metrics = font.lineMetrics(pixelSize: 30)
        #expect(plain.height == metrics.ascent + metrics.descent)
        // DejaVu Sans: ascender 0.928 em, descender 0.236 em.
        #expect(abs(metrics.ascent - 28) <= 1 && abs(metrics.descent - 7) <= 1)
    }

    @Test func renderedTextHasWhiteFillInsideABlackOutline() throws {
        let font = try Font(path: Font.defaultBoldPath)
        let bitmap = font.render("I", pixelSize: 60, outline: 4)
        #expect(bitmap.size == font.measure("I", pixelSize: 60, outline: 4))
        #expect(bitmap.argb.count == bitmap.size.width * bitmap.size.height)
        // Walk the middle row of the stem from the left: transparent, then opaque black, then opaque white,
        // then black again, then transparent.
        let row = bitmap.baseline - 20
        let pixels = (0..<bitmap.size.width).map { bitmap.argb[row * bitmap.size.width + $0] }
        func kind(_ p: UInt32) -> Character {
            let alpha = p >> 24
            let grey = p & 0xFF
            if alpha < 10 { return "." }
            if alpha > 245 && grey < 10 { return "k" }
            if alpha > 245 && grey > 245 { return "w" }
            return "~"
        }
        let runs = pixels.map(kind).reduce(into: [Character]()) { runs, k in
            if k != "~" && runs.last != k { runs.append(k) }
        }
        #expect(String(runs) == ".kwk.", "row \(row): \(String(pixels.map(kind)))")
        let outlinePixels = pixels.filter { kind($0) == "k" }.count
        #expect(outlinePixels >= 2 * 3 && outlinePixels <= 2 * 5)
    }

    @Test func textWithoutOutlineHasNoDarkPixels() throws {
        let font = try Font(path: Font.defaultRegularPath)
        let bitmap = font.render("Hello", pixelSize: 24, outline: 0)
        #expect(bitmap.argb.allSatisfy { $0 >> 24 == 0 || $0 & 0xFF == 0xFF })
        #expect(bitmap.argb.contains { $0 >> 24 == 0xFF })
    }

    @Test func missingGlyphIsAHollowBox() throws {
        let font = try Font(path: Font.defaultRegularPath)
        let missing: Unicode.Scalar = "\u{732B}"  // a CJK ideograph DejaVu does not cover
        #expect(!font.hasGlyph(missing))
        #expect(font.hasGlyph("é") && font.hasGlyph("ø") && font.hasGlyph("€"))
        let bitmap = font.render(String(missing), pixelSize: 40, outline: 0)
        let width = bitmap.size.width
        var covered: [(x: Int, y: Int)] = []
        for y in 0..<bitmap.size.height {
            for x in 0..<width where bitmap.argb[y * width + x] >> 24 == 0xFF {
                covered.append((x, y))
            }
        }
        let minX = covered.map(\.x).min()!
        let maxX = covered.map(\.x).max()!
        let minY = covered.map(\.y).min()!
        let maxY = covered.map(\.y).max()!
        #expect(maxY == bitmap.baseline - 1, "the box stands on the baseline")
        #expect(maxX - minX + 1 == 22 && maxY - minY + 1 == 28, "box of 0.55 x 0.7 em")
        // Sides are covered, the inside is empty.
        let midY = (minY + maxY) / 2
        let midX = (minX + maxX) / 2
        #expect(bitmap.argb[midY * width + minX] >> 24 == 0xFF && bitmap.argb[midY * width + maxX] >> 24 == 0xFF)
        #expect(bitmap.argb[minY * width + midX] >> 24 == 0xFF && bitmap.argb[maxY * width + midX] >> 24 == 0xFF)
        #expect(bitmap.argb[midY * width + midX] == 0)
    }

    @Test func unicodeTextIsMeasuredPerCodePoint() throws {
        let font = try Font(path: Font.defaultRegularPath)
        // Precomposed and combining "é" take the same room; an accent adds ink above the x-height.
        let precomposed = font.measure("caf\u{E9}", pixelSize: 30, outline: 0)
        let combining = font.measure("cafe\u{301}", pixelSize: 30, outline: 0)
        #expect(abs(precomposed.width - combining.width) <= 1)
        func inkTop(_ text: String) -> Int {
            let bitmap = font.render(text, pixelSize: 30, outline: 0)
            let first = bitmap.argb.firstIndex { $0 >> 24 > 128 }!
            return first / bitmap.size.width
        }
        #expect(inkTop("\u{E9}") < inkTop("e") - 3)
        // Control characters take no room; a tab is a space.
        #expect(font.measure("a\u{7}b", pixelSize: 30, outline: 0) == font.measure("ab", pixelSize: 30, outline: 0))
        #expect(font.measure("a\tb", pixelSize: 30, outline: 0) == font.measure("a b", pixelSize: 30, outline: 0))
    }

    @Test func truncationFitsAndEndsWithAnEllipsis() throws {
        let font = try Font(path: Font.defaultRegularPath)
        let text = "a photo of a very fluffy cat asleep on a red sofa"
        #expect(font.truncated(text, toWidth: 10_000, pixelSize: 20, outline: 1) == text)
        for width in [40, 100, 180, 300] {
            let cut = font.truncated(text, toWidth: width, pixelSize: 20, outline: 1)
            #expect(cut.hasSuffix("…") && cut.count > 1)
            #expect(font.measure(cut, pixelSize: 20, outline: 1).width <= width)
            #expect(text.hasPrefix(String(cut.dropLast()).trimmingCharacters()))
            // Keeping the next word character too would not fit.
            let characters = Array(text)
            var next = cut.count - 1
            while characters[next] == " " { next += 1 }
            let longer = String(characters[...next]) + "…"
            #expect(font.measure(longer, pixelSize: 20, outline: 1).width > width, "\(longer) fits \(width)")
        }
        #expect(font.truncated(text, toWidth: 3, pixelSize: 20, outline: 1) == "")
    }

    @Test func glyphCacheGivesTheSameBitmapAtEverySize() throws {
        let font = try Font(path: Font.defaultRegularPath)
        let first = font.render("Zebra 42", pixelSize: 18, outline: 1)
        _ = font.render("Zebra 42", pixelSize: 50, outline: 3)
        let again = font.render("Zebra 42", pixelSize: 18, outline: 1)
        #expect(first.argb == again.argb && first.size == again.size)
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
