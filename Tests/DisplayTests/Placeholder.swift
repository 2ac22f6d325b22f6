import Testing

@Test func DisplayTestsBuilds() {}
