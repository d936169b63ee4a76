"""How violating merchants of each policy category look: the words of an overt violator,
the euphemisms of one that camouflages, the supportable businesses it may pose as, and
how its numbers drift.

Templates use ``{product}``, ``{product2}``, ``{city}`` and ``{years}``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViolationProfile:
    category: str
    weight: float  # relative frequency among violators
    nouns: tuple[str, ...]
    mccs: tuple[str, ...]
    products: tuple[str, ...]
    overt_descriptions: tuple[str, ...]
    covert_descriptions: tuple[str, ...]
    overt_sentences: tuple[str, ...]
    covert_sentences: tuple[str, ...]
    disguises: tuple[str, ...]  # archetype keys a bland violator poses as
    cnp: float
    refund: float
    dispute: float
    volume: float
    risk: float = 1.0  # mean shift of the latent risk that drives the numbers
    dispute_boost: float = 1.0
    # (country, weight) pairs replacing the usual country mix for this category
    countries: tuple[tuple[str, float], ...] = ()


OFFSHORE_COUNTRIES = (
    ("CY", 1.0),
    ("MT", 1.0),
    ("PA", 0.6),
    ("VG", 0.6),
    ("BZ", 0.4),
    ("CW", 0.5),
    ("GI", 0.4),
)

VIOLATION_PROFILES: tuple[ViolationProfile, ...] = (
    ViolationProfile(
        category="adult-content",
        weight=0.09,
        nouns=("Cams", "Fan Club", "After Dark", "Creators", "Velvet Room", "Members"),
        mccs=("5967", "5815", "7841"),
        products=(
            "explicit videos",
            "live cam shows",
            "private fan content",
            "creator subscriptions",
            "uncensored photo sets",
        ),
        overt_descriptions=(
            "Adult entertainment site with {product} and {product2}, 18+ only.",
            "Uncensored xxx {product} from verified models.",
        ),
        covert_descriptions=(
            "Exclusive creator subscriptions with spicy private content for members.",
            "A members-only platform where creators share {product} after dark.",
        ),
        overt_sentences=(
            "Explicit nsfw {product} updated daily.",
            "Live xxx cam shows with verified models, 18+ only.",
            "Unlock uncensored adult videos with a monthly pass.",
        ),
        covert_sentences=(
            "Creators share exclusive {product} with paying members.",
            "Spicy content is unlocked after you subscribe.",
            "Intimate one-on-one video calls with your favourite creator.",
            "Bold boudoir sets and private messages for members.",
            "Discreet billing appears as a generic media charge.",
        ),
        disguises=("creator-memberships", "photography", "lingerie"),
        cnp=0.99,
        refund=0.05,
        dispute=0.012,
        volume=40_000,
        risk=1.0,
    ),
    ViolationProfile(
        category="weapons",
        weight=0.07,
        nouns=("Tactical", "Arms", "Armory", "Defense Supply", "Outdoor Supply", "Gunworks"),
        mccs=("5941", "5999", "5099"),
        products=(
            "80% lower receivers",
            "solvent trap kits",
            "ammunition",
            "suppressors",
            "build kits",
            "tactical gear",
        ),
        overt_descriptions=(
            "Untraceable ghost gun kits, {product} and {product2} shipped without paperwork.",
            "Firearms parts and ammunition, no serial numbers and no background checks.",
        ),
        covert_descriptions=(
            "Tactical gear and hardware for the serious outdoorsman: {product} and more.",
            "Outdoor sporting equipment and {product}, shipped with no questions asked.",
        ),
        overt_sentences=(
            "Our {product} ship without serial numbers.",
            "Full-auto conversion parts available on request.",
            "Ammunition ships without ID checks to all states.",
            "Suppressors are shipped discreetly as cleaning kits.",
        ),
        covert_sentences=(
            "Solvent trap kits for cleaning, drill jigs sold separately.",
            "Tactical gear for self defense and preparedness.",
            "No questions asked shipping on all {product}.",
            "Build your own with our {product2}, hardware only.",
        ),
        disguises=("hunting-apparel", "hardware-store", "kitchen-knives"),
        cnp=0.85,
        refund=0.03,
        dispute=0.006,
        volume=30_000,
        risk=1.0,
    ),
    ViolationProfile(
        category="drugs",
        weight=0.06,
        nouns=(
            "Botanicals",
            "Green Leaf",
            "Herbal Co.",
            "Plant Medicine",
            "Cloud Nine",
            "Mushroom Co.",
        ),
        mccs=("5499", "5993", "5999"),
        products=(
            "cannabis edibles",
            "psilocybin mushrooms",
            "THC vape cartridges",
            "herbal incense",
            "microdosing kits",
            "kratom",
        ),
        overt_descriptions=(
            "Buy {product} and {product2} online, shipped nationwide.",
            "Psilocybin mushrooms, cannabis edibles and THC carts delivered discreetly.",
        ),
        covert_descriptions=(
            "Botanical wellness and plant medicine for mindful journeys.",
            "Aromatic herbal blends and {product}, not for human consumption.",
        ),
        overt_sentences=(
            "Our {product} are lab tested for potency.",
            "Magic mushroom microdosing kits ship in stealth packaging.",
            "THC vape cartridges and cannabis edibles, no medical card needed.",
        ),
        covert_sentences=(
            "Herbal incense blends sold as potpourri, not for human consumption.",
            "Plant medicine ceremonies and microdosing journeys.",
            "Research chemicals for laboratory use only.",
            "Stealth packaging on every order of {product}.",
        ),
        disguises=("herbal-tea", "supplement-store", "grocery"),
        cnp=0.95,
        refund=0.04,
        dispute=0.008,
        volume=25_000,
        risk=1.1,
    ),
    ViolationProfile(
        category="pseudo-pharmaceuticals",
        weight=0.10,
        nouns=("Peptides", "Wellness", "Rx Direct", "Labs", "Pharma", "Health Solutions"),
        mccs=("5912", "5499", "8099", "5122"),
        products=(
            "research peptides",
            "semaglutide",
            "sildenafil",
            "SARMs",
            "weight loss injections",
            "nootropics",
            "BPC-157",
        ),
        overt_descriptions=(
            "Buy {product} and {product2} without a prescription.",
            "Generic prescription drugs with no prescription needed, shipped overnight.",
        ),
        covert_descriptions=(
            "Wellness supplements and research peptides for optimal performance.",
            "Clinically proven {product} and {product2} for weight loss and hormone optimisation.",
        ),
        overt_sentences=(
            "No prescription needed for {product}.",
            "Generic viagra and tadalafil without a doctor.",
            "Steroids and SARMs shipped discreetly.",
            "Miracle cure for diabetes, reverses it in weeks.",
        ),
        covert_sentences=(
            "Research peptides sold for research purposes, not for human consumption.",
            "Weight loss injections delivered to your door.",
            "Our wellness supplements are clinically proven to reverse aging.",
            "Hormone optimisation protocols with {product}.",
            "Discreet packaging for all {product2}.",
        ),
        disguises=("supplement-store", "licensed-pharmacy", "cosmetics", "telehealth"),
        cnp=0.95,
        refund=0.06,
        dispute=0.010,
        volume=45_000,
        risk=1.0,
    ),
    ViolationProfile(
        category="counterfeit-goods",
        weight=0.09,
        nouns=("Luxury Outlet", "Replica", "Designer Deals", "Collectibles", "Lux", "Brand Store"),
        mccs=("5944", "5691", "5661", "5948", "5999"),
        products=(
            "replica watches",
            "designer handbags",
            "luxury sneakers",
            "inspired sunglasses",
            "super clone watches",
        ),
        overt_descriptions=(
            "1:1 replica {product} and {product2}, mirror quality.",
            "Fake designer handbags and replica watches at factory prices.",
        ),
        covert_descriptions=(
            "Collectibles and designer-inspired {product} at a fraction of retail.",
            "Luxury style at outlet prices: {product} and {product2}, 90% off.",
        ),
        overt_sentences=(
            "AAA grade replica {product}, indistinguishable from the original.",
            "Mirror quality copies of luxury brands.",
            "Super clone watches with the same movement as the original.",
        ),
        covert_sentences=(
            "Designer-inspired {product} at a fraction of retail.",
            "Factory direct brand items up to 90% off.",
            "Authentic quality watches and collectibles for less.",
            "Brand logos are not shown on our site; ask for the catalogue.",
        ),
        disguises=("apparel", "vintage-watches", "sneaker-collectibles"),
        cnp=0.95,
        refund=0.08,
        dispute=0.012,
        volume=35_000,
        risk=1.0,
    ),
    ViolationProfile(
        category="pyramid-schemes",
        weight=0.06,
        nouns=(
            "Wealth Circle",
            "Prosperity Network",
            "Freedom Academy",
            "Abundance Club",
            "Legacy Partners",
        ),
        mccs=("8999", "5964", "8299", "7399"),
        products=(
            "founding member tiers",
            "wealth mentorship",
            "gifting circles",
            "passive income blueprints",
        ),
        overt_descriptions=(
            "Recruit three friends and earn 10x your entry through our {product}.",
            "Cash gifting circle with guaranteed returns from your downline.",
        ),
        covert_descriptions=(
            "A community wealth circle for financial freedom through {product}.",
            "Join our team of entrepreneurs and unlock {product} and {product2}.",
        ),
        overt_sentences=(
            "Earn a commission on every member your downline recruits.",
            "Guaranteed 10x returns once your circle is complete.",
            "Move up the pyramid by enrolling new members.",
        ),
        covert_sentences=(
            "Level up your rank by enrolling partners.",
            "Founding member tiers pay out as the community grows.",
            "Financial freedom mentorship for our community of entrepreneurs.",
            "Passive income blueprint revealed to members only.",
        ),
        disguises=("business-coaching", "cosmetics", "web-agency"),
        cnp=0.97,
        refund=0.10,
        dispute=0.010,
        volume=20_000,
        risk=1.0,
    ),
    ViolationProfile(
        category="sanctioned-jurisdictions",
        weight=0.05,
        nouns=("Trading", "Import Export", "Global Trade", "Exchange House", "Logistics"),
        mccs=("5094", "4214", "5999", "4722", "5713"),
        products=(
            "industrial spare parts",
            "electronics",
            "oilfield equipment",
            "money transfers",
            "travel bookings",
        ),
        overt_descriptions=(
            "Trading company in {city} supplying {product} and {product2}.",
            "We ship {product} to Iran, Syria and North Korea without restrictions.",
        ),
        covert_descriptions=(
            "Trading company serving the wider region with {product} and {product2}.",
            "Freight to all destinations with no destination off limits.",
        ),
        overt_sentences=(
            "Payments accepted from customers in Tehran, Damascus and Havana.",
            "We route {product} around sanctions through partner companies.",
            "Deliveries to Pyongyang arranged on request.",
        ),
        covert_sentences=(
            "We handle customs for hard-to-reach markets.",
            "No destination is off limits for our {product}.",
            "Transfers settled through our regional exchange partners.",
        ),
        disguises=("freight-forwarder", "rug-importer", "travel-agency"),
        cnp=0.6,
        refund=0.02,
        dispute=0.004,
        volume=80_000,
        risk=0.6,
        countries=(
            ("IR", 0.32),
            ("SY", 0.16),
            ("CU", 0.14),
            ("KP", 0.08),
            ("AE", 0.1),
            ("TR", 0.08),
            ("AM", 0.05),
            ("LB", 0.04),
            ("GE", 0.03),
        ),
    ),
    ViolationProfile(
        category="gambling",
        weight=0.16,
        nouns=("Casino", "Bets", "Spins", "Sweepstakes", "Social Casino", "Jackpot", "Play"),
        mccs=("7995", "7994", "7999", "5816"),
        products=(
            "online slots",
            "sports betting",
            "sweepstakes coins",
            "poker tournaments",
            "daily fantasy contests",
            "live roulette",
        ),
        overt_descriptions=(
            "Online casino with {product} and {product2}, real-money payouts.",
            "Bet on football, tennis and esports with the best odds.",
        ),
        covert_descriptions=(
            "Social gaming and sweepstakes: play free, redeem coins for prizes.",
            "Skill-based contests with cash prizes, including {product}.",
        ),
        overt_sentences=(
            "Deposit and withdraw winnings instantly.",
            "Real-money {product} with a 200% welcome bonus.",
            "Live betting odds on every match.",
        ),
        covert_sentences=(
            "Redeem sweepstakes coins for cash prizes.",
            "Spin to win every day with free coins.",
            "Skill-based {product} with cash prizes for winners.",
            "Buy gold coin packs and get bonus sweeps coins.",
        ),
        disguises=("casino-board-games", "toy-store", "saas"),
        cnp=0.99,
        refund=0.03,
        dispute=0.010,
        volume=60_000,
        risk=0.9,
        countries=OFFSHORE_COUNTRIES,
    ),
    ViolationProfile(
        category="unlicensed-financial-services",
        weight=0.16,
        nouns=("Exchange", "Crypto", "Capital", "Pay", "Finance", "Wallet", "Lending"),
        mccs=("6051", "6211", "6012", "4829", "7399"),
        products=(
            "crypto swaps",
            "payday loans",
            "forex signals",
            "cross-border transfers",
            "yield farming vaults",
            "wallet top-ups",
        ),
        overt_descriptions=(
            "Anonymous crypto exchange with no KYC: {product} and {product2}.",
            "Payday loans with no credit check and money transfers without verification.",
        ),
        covert_descriptions=(
            "Digital asset exchange offering {product} and {product2}.",
            "Cross-border remittance solutions and an investment club for members.",
        ),
        overt_sentences=(
            "No KYC and no ID needed to swap bitcoin.",
            "Forex signals with guaranteed profits every week.",
            "Peer-to-peer lending at 30% monthly returns.",
        ),
        covert_sentences=(
            "Instant wallet top-ups with your card.",
            "Yield farming vaults pay daily interest.",
            "Send money abroad in minutes through our partner network.",
            "Trade digital assets with low fees.",
        ),
        disguises=("licensed-brokerage", "crypto-education", "saas", "accounting"),
        cnp=0.98,
        refund=0.03,
        dispute=0.010,
        volume=100_000,
        risk=0.9,
        countries=OFFSHORE_COUNTRIES,
    ),
    ViolationProfile(
        category="high-chargeback",
        weight=0.16,
        nouns=("Club", "Deals", "Trial Offers", "Support", "Rewards", "Direct"),
        mccs=("5968", "5999", "7399", "4722", "5977"),
        products=(
            "free trial offers",
            "skin care trials",
            "travel club memberships",
            "tech support plans",
            "discount club memberships",
        ),
        overt_descriptions=(
            "Risk-free {product}: just pay shipping.",
            "Limited time {product} at 90% off, auto-renewing monthly.",
        ),
        covert_descriptions=(
            "Membership club with {product} and {product2}.",
            "We sell {product} and exclusive member discounts.",
        ),
        overt_sentences=(
            "Your free trial converts to a monthly membership after 7 days.",
            "Just pay shipping today; the full price is billed later.",
            "Cancellations must be requested by phone during business hours.",
        ),
        covert_sentences=(
            "Members save on {product} every month.",
            "Our support team resolves computer problems remotely.",
            "Exclusive travel deals for club members.",
            "Offer renews automatically at the regular price.",
        ),
        disguises=("cosmetics", "subscription-box", "travel-agency", "saas", "meal-kits"),
        cnp=0.99,
        refund=0.12,
        dispute=0.010,
        volume=50_000,
        risk=1.2,
        dispute_boost=3.0,
    ),
)

PROFILES_BY_CATEGORY = {p.category: p for p in VIOLATION_PROFILES}
