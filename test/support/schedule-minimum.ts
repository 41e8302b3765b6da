/** The shortest schedule interval the tests' control API accepts (300 s by default), so that schedules fire within a test. */
export const TEST_SCHEDULE_MIN_INTERVAL_SECONDS = 5;
