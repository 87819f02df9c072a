// Writing a report: the form, the categories and precisions on offer, and filing. The core checks
// every field; this model keeps what was typed and the core's sentence for each field.
import Foundation
import TiplineFFI

public struct CategoryOption: Identifiable, Equatable {
    public let id: String
    public let label: String
}

public struct PrecisionOption: Identifiable, Equatable {
    public let precision: Precision
    public let label: String
    public var id: String { label }
}

public enum WhenMode { case unknown, exact, between }
public enum PlaceMode { case none, position, described }
public enum MediaKind { case photo, video, audio, other }

public struct PersonInput: Equatable, Identifiable {
    public let id = UUID()
    /// What they look like, what they did (the draft's `description`).
    public var details = ""
    public var name = ""
    public init(details: String = "", name: String = "") {
        self.details = details
        self.name = name
    }
}

/// A file picked by the reporter: the app's own copy of it, by path (metadata still in: the core
/// strips it while reading the file in chunks), and its size in bytes.
public struct AttachmentInput: Equatable, Identifiable {
    public let id = UUID()
    public let name: String
    public let mediaType: String
    public let path: String
    public let size: Int64
    public var kind: MediaKind {
        switch mediaType.split(separator: "/").first {
        case "image": return .photo
        case "video": return .video
        case "audio": return .audio
        default: return .other
        }
    }
}

/// The form as the reporter filled it in.
public struct ReportForm: Equatable {
    public var category: String?
    public var text = ""
    public var whenMode = WhenMode.unknown
    public var exactAt: Date?
    public var earliest: Date?
    public var latest: Date?
    public var placeMode = PlaceMode.none
    public var latitude: Double?
    public var longitude: Double?
    public var precision = Precision.neighbourhood
    public var placeText = ""
    public var people: [PersonInput] = []
    public var wantsContact = false
    public var contactName = ""
    public var contactPhone = ""
    public var contactEmail = ""
    public var attachments: [AttachmentInput] = []

    public init() {}

    /// The draft the core checks and seals; empty optional fields are left out.
    public func draft(language: String, region: String?) -> Draft {
        var happened: When?
        switch whenMode {
        case .unknown: happened = nil
        case .exact: happened = exactAt.map { When.exact(at: $0) }
        case .between:
            if let earliest, let latest { happened = .between(earliest: earliest, latest: latest) }
        }
        var place: DraftPlace?
        switch placeMode {
        case .none: place = nil
        case .position:
            if let latitude, let longitude { place = .position(latitude: latitude, longitude: longitude, precision: precision) }
        case .described: place = .described(text: placeText)
        }
        func optional(_ value: String) -> String? { value.trimmingCharacters(in: .whitespaces).isEmpty ? nil : value }
        return Draft(
            category: category ?? "",
            text: text,
            language: language,
            region: region,
            unitId: nil,
            happened: happened,
            place: place,
            people: people.map { Person(description: $0.details, name: optional($0.name)) },
            contact: wantsContact ? Contact(name: optional(contactName), phone: optional(contactPhone), email: optional(contactEmail)) : nil,
            attachments: attachments.map { DraftAttachment(name: $0.name, mediaType: $0.mediaType, path: $0.path) }
        )
    }
}

@MainActor
public final class ReportModel: ObservableObject {
    @Published public private(set) var categories: [CategoryOption] = []
    @Published public private(set) var precisions: [PrecisionOption] = []
    /// The form; views bind to it and each edit clears that field's problem.
    @Published public var form = ReportForm() {
        didSet { if form != oldValue { problems = problems.filter { !changed(oldValue, form).contains($0.key) } } }
    }
    /// The core's sentence for each field to correct, by field (`text`, `people[0].description`...).
    @Published public private(set) var problems: [String: String] = [:]
    @Published public private(set) var notice: Notice?
    @Published public private(set) var submitting = false

    private let client: TiplineClientProtocol
    private let settings: SettingsModel
    private let codename: CodenameModel
    private let delivery: DeliveryModel

    init(client: TiplineClientProtocol, settings: SettingsModel, codename: CodenameModel, delivery: DeliveryModel) {
        self.client = client
        self.settings = settings
        self.codename = codename
        self.delivery = delivery
    }

    /// The categories (from the directory) and precisions (from the core) in the current language.
    public func relabel() {
        let text = settings.text
        categories = (client.directory()?.categories ?? []).map { CategoryOption(id: $0.id, label: text.label($0.labels)) }
        precisions = [(Precision.street, "precision-street"), (.neighbourhood, "precision-neighbourhood"), (.town, "precision-town"), (.region, "precision-region")]
            .map { PrecisionOption(precision: $0.0, label: text.text($0.1)) }
    }

    public func attach(name: String, mediaType: String, path: String, size: Int64) {
        form.attachments.append(AttachmentInput(name: name, mediaType: mediaType, path: path, size: size))
    }

    /// Files the report (works offline: the core seals it into the outbox) and shows the codename.
    @discardableResult
    public func submit() async -> Filed? {
        let form = self.form
        let text = settings.text
        submitting = true
        notice = nil
        defer { submitting = false }
        do {
            let filed = try await client.fileReport(draft: form.draft(language: settings.languageCode, region: settings.region))
            self.form = ReportForm()
            problems = [:]
            codename.show(filed, attachmentNames: form.attachments.map { $0.name })
            delivery.flushSoon()
            return filed
        } catch ApiError.InvalidInput(let fields, _) {
            problems = text.problems(fields)
        } catch ApiError.NotFound {
            notice = .app(.noDirectory)
        } catch {
            notice = text.notice(error)
        }
        return nil
    }

    /// Forgets everything typed (quick exit).
    public func clear() {
        form = ReportForm()
        problems = [:]
        notice = nil
    }

    /// The problem fields an edit from `old` to `new` touched, by the core's rule.
    private func changed(_ old: ReportForm, _ new: ReportForm) -> Set<String> {
        let (language, region) = (settings.languageCode, settings.region)
        guard let fields = try? changedFields(old: old.draft(language: language, region: region),
                                              new: new.draft(language: language, region: region)) else {
            return Set(problems.keys)
        }
        return Set(fields)
    }
}
