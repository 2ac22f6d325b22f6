import Testing

@Test func CaptureTestsBuilds() {}
