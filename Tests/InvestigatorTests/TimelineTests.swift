import Testing

@testable import Investigator

@Suite struct TimelineTests {
    @Test func segmentsCoverRunsAtOrAboveTheThreshold() {
        let times = (0..<8).map(Double.init)
        let values: [Float] = [0, 5, 6, 1, 7, 7, 9, 0]
        let found = Timeline.segments(values, times: times, interval: 1, threshold: 5, minLength: 0)
        #expect(
            found == [
                Segment(start: 1, end: 3, peakTime: 2, peakValue: 6),
                Segment(start: 4, end: 7, peakTime: 6, peakValue: 9),
            ])
        #expect(Timeline.segments(values, times: times, interval: 1, threshold: 5, minLength: 3).count == 1)
    }

    @Test func centredAverageUsesNeighboursOnBothSides() {
        let out = Timeline.centredAverage([0, 0, 3, 0, 0], window: 3)
        #expect(out == [0, 1, 1, 1, 0])
        #expect(Timeline.centredAverage([1, 2], window: 1) == [1, 2])
    }
}
