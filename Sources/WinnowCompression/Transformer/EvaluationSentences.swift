import WinnowCore

/// Varied English sentences generated from fixed templates and word lists with a seeded
/// generator: evaluation and calibration text for sentence embeddings without a data set.
///
/// Templates mix statements, questions, instructions, numbers, dates, punctuation, accented
/// and foreign words, and long and short forms, so the embeddings cover more than one style.
public enum EvaluationSentences {
  static let subjects = [
    "the old fisherman", "a young engineer", "my neighbour's cat", "the city council", "our team",
    "a tired student", "the orchestra", "this small startup", "the café owner in Zürich", "two children",
    "the new CEO", "a retired teacher", "the weather service", "her grandmother", "the research group",
  ]
  static let verbs = [
    "repaired", "painted", "sold", "discovered", "ignored", "celebrated", "measured", "described",
    "cancelled", "rebuilt", "photographed", "borrowed", "explained", "delivered", "tested",
  ]
  static let objects = [
    "the wooden boat", "a broken bicycle", "the quarterly report", "an ancient map", "the garden fence",
    "three loaves of bread", "the neural network", "a red umbrella", "the train schedule", "a piano sonata",
    "the vaccine results", "an old résumé", "the football match", "a cup of green tea", "the solar panels",
  ]
  static let places = [
    "in Paris", "near the harbour", "at the university", "on the mountain", "in a quiet village",
    "at the airport", "in São Paulo", "behind the station", "in the kitchen", "on the moon",
  ]
  static let times = [
    "yesterday", "last winter", "on 12 March 2024", "at 7:30 pm", "every Sunday", "in 1999",
    "after the storm", "before breakfast", "during the meeting", "three weeks ago",
  ]
  static let adjectives = [
    "beautiful", "expensive", "surprising", "boring", "dangerous", "delicious", "complicated",
    "peaceful", "noisy", "brilliant",
  ]
  static let topics = [
    "climate change", "machine learning", "the stock market", "football", "cooking pasta",
    "quantum computing", "medieval history", "jazz music", "electric cars", "gardening",
  ]

  /// `count` sentences from `seed` (the same seed gives the same sentences).
  public static func generate(count: Int, seed: UInt64) -> [String] {
    var rng = RandomGenerator(seed: seed)
    func pick(_ words: [String]) -> String { words[Int(rng.next() % UInt64(words.count))] }
    func capitalized(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
    return (0..<count).map { _ in
      let (s, v, o, p, t) = (pick(subjects), pick(verbs), pick(objects), pick(places), pick(times))
      let (a, topic) = (pick(adjectives), pick(topics))
      let n = Int(rng.next() % 1000)
      switch rng.next() % 10 {
      case 0: return capitalized("\(s) \(v) \(o) \(p) \(t).")
      case 1: return "Why has \(s) \(v) \(o) \(t)?"
      case 2: return "I think \(topic) is \(a), but \(s) disagrees."
      case 3: return "Please bring \(o) \(p) before \(n % 12 + 1) o'clock!"
      case 4: return capitalized("\(t), \(s) paid $\(n).\(n % 100) for \(o) — quite \(a).")
      case 5: return "\(capitalized(topic)): \(n) facts that \(s) never knew."
      case 6: return "\"\(capitalized(a))!\" said \(s) when \(s == "our team" ? "we" : "they") saw \(o)."
      case 7: return capitalized("\(o) was \(v) by \(s) \(p); nobody expected it to be so \(a).")
      case 8: return "How do I explain \(topic) to \(s)?"
      default: return capitalized("\(s) wrote a \(a) essay about \(topic) \(p) \(t), citing \(n) sources.")
      }
    }
  }
}
