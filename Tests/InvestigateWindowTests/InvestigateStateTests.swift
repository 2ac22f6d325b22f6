import Display
import Testing

@testable import InvestigateWindow

/// Text measured as 8 pixels a character, 16 high: enough for a plot layout without a font.
struct FixedWidthText: TextMeasuring {
    func measure(_ text: String, style: FontStyle, pixelSize: Int) -> PixelSize {
        PixelSize(width: 8 * text.count, height: 16)
    }
    func truncated(_ text: String, toWidth width: Int, style: FontStyle, pixelSize: Int) -> String {
        String(text.prefix(max(0, width / 8)))
    }
}

@Suite struct InvestigateStateTests {
    /// A 6 s video sampled at 10 frames/s, two prompts, and the layout of its plot in a 800x200 strip.
    func setUp() -> (InvestigateState, PlotLayout) {
        let state = InvestigateState(duration: 6, sampleStep: 0.1, prompts: ["a", "b"])
        let data = PlotData(
            times: [0, 1], series: [PlotSeries(label: "a", values: [0, 1]), PlotSeries(label: "b", values: [1, 0])],
            duration: 6)
        let layout = PlotLayout(
            data: data, rect: PixelRect(x: 0, y: 500, width: 800, height: 200), fonts: FixedWidthText())
        return (state, layout)
    }

    @Test func clicksAndDragsOnThePlotSeekToTheFrameUnderThem() {
        var (state, plot) = setUp()
        let g = plot.geometry
        let y = g.plot.y + g.plot.height / 2
        for time in [4.0, 0.3, 5.9, 2.5] {
            let x = g.x(time: time)
            #expect(state.handle(.press(x: x, y: y), plot: plot) == [.seek(state.snapped(g.time(x: x)))])
            #expect(abs(state.time - time) <= 0.05 + 1e-9, "clicked at \(time) s, now at \(state.time)")
            #expect(state.dragging)
            _ = state.handle(.release, plot: plot)
        }
        // A drag seeks as it moves and stops with the release.
        _ = state.handle(.press(x: g.x(time: 1), y: y), plot: plot)
        #expect(state.handle(.drag(x: g.x(time: 2), y: 0), plot: plot) == [.seek(2)])
        _ = state.handle(.release, plot: plot)
        #expect(state.handle(.drag(x: g.x(time: 3), y: y), plot: plot) == [])
        #expect(state.time == 2)
        // Clicks outside the strip do nothing.
        #expect(state.handle(.press(x: 100, y: 100), plot: plot) == [])
        #expect(state.handle(.press(x: 100, y: y), plot: nil) == [])
    }

    @Test func clickingALegendEntryTogglesItsLine() {
        var (state, plot) = setUp()
        let entry = plot.legend[1].textFrame
        #expect(state.handle(.press(x: entry.x + 2, y: entry.y + 2), plot: plot) == [])
        #expect(state.hidden == [1])
        #expect(state.handle(.toggleSeries(1), plot: plot) == [] && state.hidden.isEmpty)
        _ = state.handle(.toggleSeries(0), plot: plot)
        _ = state.handle(.toggleSeries(7), plot: plot)  // no eighth prompt
        #expect(state.hidden == [0])
    }

    @Test func keysStepSkipAndJump() {
        var (state, _) = setUp()
        /// The time of the single seek `event` asks for.
        func seek(_ event: DisplayEvent) -> Double? {
            let actions = state.handle(event, plot: nil)
            guard actions.count == 1, case .seek(let time) = actions[0] else { return nil }
            #expect(state.time == time)
            return time
        }
        for (event, expected) in [
            (DisplayEvent.step(1), 0.1), (.step(1), 0.2), (.step(-1), 0.1), (.step(-1), 0), (.step(-1), 0),
            (.skip(10), 5.9), (.skip(-3), 2.9), (.toEnd, 5.9), (.toStart, 0),
        ] {
            let time = seek(event)
            #expect(time.map { abs($0 - expected) < 1e-9 } == true, "\(event) went to \(String(describing: time))")
        }
    }

    @Test func spacePlaysAndPausesAndRestartsAtTheEnd() {
        var (state, _) = setUp()
        #expect(state.handle(.togglePause, plot: nil) == [.play] && state.playing)
        state.played(to: 1.5)
        #expect(state.handle(.togglePause, plot: nil) == [.pause] && !state.playing && state.time == 1.5)
        _ = state.handle(.toEnd, plot: nil)
        #expect(state.handle(.togglePause, plot: nil) == [.seek(0), .play] && state.time == 0)
        state.reachedEnd()
        #expect(!state.playing)
    }

    @Test func typedPromptsAreAddedOnceAndQuitQuits() {
        var (state, _) = setUp()
        #expect(state.handle(.promptDraft("a d"), plot: nil) == [] && state.draft == "a d")
        #expect(state.handle(.newPrompt("a dog"), plot: nil) == [.addPrompt("a dog")] && state.draft == nil)
        state.added(prompt: "a dog")
        #expect(state.prompts == ["a", "b", "a dog"])
        #expect(state.handle(.newPrompt("a dog"), plot: nil) == [])
        #expect(state.handle(.quit, plot: nil) == [.quit])
    }
}
