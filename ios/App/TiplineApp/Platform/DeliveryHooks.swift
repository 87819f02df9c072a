// The platform's signals for delivery: NWPathMonitor says when the network comes back, and a
// BGProcessingTask (requiring connectivity) flushes the outbox when the app is not in front. The
// core decides what is due; these only say "now is worth a try". A BGAppRefreshTask, every 15
// minutes at the soonest (iOS decides when), flushes too and then checks the reporter's cases for
// news within the half minute iOS gives it; the processing task, which may run for minutes, checks
// over two. Each posts the notification the model decides on.
import BackgroundTasks
import Foundation
import Network
import TiplineAppModel

final class DeliveryHooks {
    static let taskIdentifier = "org.tipline.app.outbox"
    static let refreshIdentifier = "org.tipline.app.refresh"
    /// The check's spread in an app refresh task: inside the about 30 seconds iOS allows it.
    static let refreshSpread: UInt32 = 20
    /// The check's spread in a processing task, which iOS lets run for minutes.
    static let processingSpread: UInt32 = 120
    private let monitor = NWPathMonitor()

    /// Tells delivery about every change of the network path, for the process's lifetime.
    func startMonitoring(_ delivery: DeliveryModel) {
        monitor.pathUpdateHandler = { path in
            let satisfied = path.status == .satisfied
            Task { @MainActor in
                if satisfied {
                    delivery.onNetworkAvailable()
                } else {
                    delivery.onNetworkLost()
                }
            }
        }
        monitor.start(queue: DispatchQueue(label: "org.tipline.network"))
    }

    /// Registers the background task's handler (before launch finishes).
    static func registerBackgroundTask(model: @escaping @Sendable () async -> AppModel?) {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskIdentifier, using: nil) { task in
            let work = Task { @MainActor in
                guard let app = await model() else {
                    task.setTaskCompleted(success: false)
                    return
                }
                let summary = await app.delivery.flushNow()
                if app.delivery.needsBackgroundWork(summary) { scheduleBackgroundTask() }
                await checkCases(app, spreadSeconds: processingSpread)
                task.setTaskCompleted(success: summary != nil)
            }
            task.expirationHandler = { work.cancel() }
        }
        BGTaskScheduler.shared.register(forTaskWithIdentifier: refreshIdentifier, using: nil) { task in
            // The next refresh is asked for first: iOS runs one only when one is scheduled.
            scheduleRefreshTask()
            let work = Task { @MainActor in
                guard let app = await model() else {
                    task.setTaskCompleted(success: false)
                    return
                }
                let summary = await app.delivery.flushNow()
                if app.delivery.needsBackgroundWork(summary) { scheduleBackgroundTask() }
                await checkCases(app, spreadSeconds: refreshSpread)
                task.setTaskCompleted(success: true)
            }
            task.expirationHandler = { work.cancel() }
        }
    }

    /// The check, and the notification the model decides on.
    @MainActor
    private static func checkCases(_ app: AppModel, spreadSeconds: UInt32) async {
        if let notification = await app.updates.check(spreadSeconds: spreadSeconds) {
            UpdateNotifier.shared.post(notification, languageCode: app.settings.languageCode)
        }
    }

    /// Asks iOS for an app refresh (flush and check) no sooner than in 15 minutes.
    static func scheduleRefreshTask() {
        let request = BGAppRefreshTaskRequest(identifier: refreshIdentifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }

    /// Asks iOS to run the task when the phone is online (no sooner than in 15 minutes).
    static func scheduleBackgroundTask() {
        let request = BGProcessingTaskRequest(identifier: taskIdentifier)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}
