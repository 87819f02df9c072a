// The outbox: each report with its status in the core's words, live, and "try again now".
import SwiftUI
import TiplineAppModel

struct OutboxView: View {
    @ObservedObject var outbox: OutboxModel
    @ObservedObject var delivery: DeliveryModel
    @Environment(\.strings) private var t

    var body: some View {
        List {
            if !delivery.online { Text(t("outbox_offline")).foregroundColor(.red) }
            NoticeView(notice: outbox.notice ?? delivery.notice)
            if outbox.rows.isEmpty { Text(t("outbox_empty")) }
            ForEach(outbox.rows) { row in
                VStack(alignment: .leading, spacing: 4) {
                    HStack {
                        Image(systemName: icon(row.phase))
                        Text(row.unitName).font(.headline)
                    }
                    Text(row.created).font(.caption)
                    Text(row.status)
                    if let progress = row.progress { ProgressView(value: progress) }
                    if row.canRetry {
                        Button(t("outbox_retry")) { Task { await outbox.retry(row.reportId) } }
                    }
                }
            }
        }
        .navigationTitle(t("tab_outbox"))
        .task { await outbox.refresh() }
        .refreshable { await outbox.refresh() }
    }

    private func icon(_ phase: OutboxPhase) -> String {
        switch phase {
        case .queued: return "clock"
        case .sending: return "arrow.up.circle"
        case .delivered: return "checkmark.circle.fill"
        case .failed, .unverified: return "exclamationmark.triangle.fill"
        }
    }
}
