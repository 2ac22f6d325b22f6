import Display
import Foundation

// How long PlotStrip.draw takes for long series, drawn offscreen (SDL's software renderer) into a 1600x400 strip:
// 20 minutes and an hour of samples at 30 fps with 10 prompts, and a million samples with 4; the same without the
// lines (legend, grid, labels only). Run a release build: `swift run -c release plot-bench`.
let fonts = try OverlayFonts()
let target = try OffscreenTarget(size: PixelSize(width: 1600, height: 400))
let strip = PlotStrip(renderer: target.renderer, fonts: fonts)
for (samples, prompts) in [(36_000, 10), (108_000, 10), (1_000_000, 4)] {
    let times = (0..<samples).map { Double($0) / 30 }
    let series = (0..<prompts).map { p in
        PlotSeries(label: "prompt \(p)", values: (0..<samples).map { Float(50 + 40 * sin(Double($0 + p * 100) / 50)) })
    }
    let data = PlotData(times: times, series: series, duration: times.last!, cursor: 100, threshold: 60)
    try strip.draw(data, in: PixelRect(x: 0, y: 0, width: 1600, height: 400))
    let start = Date()
    let rounds = 20
    for _ in 0..<rounds { try strip.draw(data, in: PixelRect(x: 0, y: 0, width: 1600, height: 400)) }
    let ms = Date().timeIntervalSince(start) / Double(rounds) * 1000
    var hidden = data
    for i in hidden.series.indices { hidden.series[i].visible = false }
    let start2 = Date()
    for _ in 0..<rounds { try strip.draw(hidden, in: PixelRect(x: 0, y: 0, width: 1600, height: 400)) }
    let ms2 = Date().timeIntervalSince(start2) / Double(rounds) * 1000
    print(
        "\(samples) samples x \(prompts) prompts: \(String(format: "%.2f", ms)) ms per draw, \(String(format: "%.2f", ms2)) without lines"
    )
}
