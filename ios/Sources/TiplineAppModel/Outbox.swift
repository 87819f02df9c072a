// The outbox screen: each report with its status in the core's words, updated by the core's
// listener, and a retry.
import Foundation
import TiplineFFI

/// Where an item stands: `failed` is a refusal by the server, `unverified` a report the server
/// took whose receipt does not verify.
public enum OutboxPhase { case queued, sending, delivered, failed, unverified }

public struct OutboxRow: Identifiable, Equatable {
    public let reportId: String
    public let caseId: String
    public let unitName: String
    public let created: String
    public let phase: OutboxPhase
    public let status: String
    public let progress: Float?
    public let canRetry: Bool
    public var id: String { reportId }
}

/// Hands the core's outbox changes (on one of its threads) to the main actor.
final class OutboxRelay: OutboxListener, @unchecked Sendable {
    private let handler: @Sendable (OutboxItem) -> Void

    init(_ handler: @escaping @Sendable (OutboxItem) -> Void) {
        self.handler = handler
    }

    func onChange(item: OutboxItem) {
        handler(item)
    }
}

@MainActor
public final class OutboxModel: ObservableObject {
    @Published public private(set) var rows: [OutboxRow] = []
    @Published public private(set) var notice: Notice?
    private var items: [OutboxItem] = []
    private let client: TiplineClientProtocol
    private let settings: SettingsModel
    private let delivery: DeliveryModel
    private let names: DirectoryNames

    init(client: TiplineClientProtocol, settings: SettingsModel, delivery: DeliveryModel, names: DirectoryNames) {
        self.client = client
        self.settings = settings
        self.delivery = delivery
        self.names = names
    }

    public func refresh() async {
        do {
            items = try await client.outbox()
            notice = nil
        } catch {
            notice = settings.text.notice(error)
        }
        render()
    }

    func onChange(_ item: OutboxItem) {
        if let index = items.firstIndex(where: { $0.reportId == item.reportId }) {
            items[index] = item
        } else {
            items.append(item)
        }
        render()
    }

    @discardableResult
    public func retry(_ reportId: String) async -> Bool {
        do {
            let retried = try await client.retry(reportId: reportId)
            await refresh()
            if retried { await delivery.flushNow() }
            return retried
        } catch {
            notice = settings.text.notice(error)
            return false
        }
    }

    public func render() {
        let text = settings.text
        rows = items.map { item in
            let phase: OutboxPhase
            let status: String
            var progress: Float?
            switch item.status {
            case .queued(let nextAttempt, let lastError):
                phase = .queued
                if let lastError {
                    status = text.text("outbox-retrying", ["reason": text.text(lastError), "time": text.time(nextAttempt)])
                } else {
                    status = text.text("outbox-queued")
                }
            case .sending(let fraction):
                phase = .sending
                progress = fraction
                status = text.text("outbox-sending", ["percent": String(progressPercent(progress: fraction))])
            case .delivered(let receivedAt):
                phase = .delivered
                status = text.text("outbox-delivered", ["date": text.dateTime(receivedAt)])
            case .failed(let reason, _, _):
                phase = .failed
                status = text.text("outbox-failed", ["reason": text.text(reason)])
            case .receiptUnverified:
                phase = .unverified
                status = text.text("outbox-receipt-unverified")
            }
            return OutboxRow(
                reportId: item.reportId, caseId: item.caseId, unitName: names.unit(item.unitId),
                created: text.dateTime(item.created), phase: phase, status: status, progress: progress,
                canRetry: phase == .queued || phase == .failed
            )
        }
    }

    func clear() {
        items = []
        rows = []
        notice = nil
    }
}
