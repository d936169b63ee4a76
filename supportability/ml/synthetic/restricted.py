"""Violation profiles of the restricted family (see ``profiles`` for the fields)."""

from __future__ import annotations

from .profiles import OFFSHORE_COUNTRIES, ViolationProfile

RESTRICTED_PROFILES: tuple[ViolationProfile, ...] = (
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
