import Testing

@Test func ClipCamTestsBuilds() {}
