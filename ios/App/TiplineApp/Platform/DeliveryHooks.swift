// The platform's signals for delivery: NWPathMonitor says when the network comes back, and a
// BGProcessingTask (requiring connectivity) flushes the outbox when the app is not in front. The
// core decides what is due; these only say "now is worth a try".
import BackgroundTasks
import Foundation
import Network
import TiplineAppModel

final class DeliveryHooks {
    static let taskIdentifier = "org.tipline.app.outbox"
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
                task.setTaskCompleted(success: summary != nil)
            }
            task.expirationHandler = { work.cancel() }
        }
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
