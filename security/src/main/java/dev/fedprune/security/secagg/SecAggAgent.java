package dev.fedprune.security.secagg;

import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.secagg.RevealedShare.Secret;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One agent's side of one secure-aggregation round (Bonawitz et al. 2017 restricted to the SecAgg+
 * neighbour graph), in protocol order: {@link #advertise} keys, {@link #shareSecrets} with neighbours
 * and {@link #receive} theirs, {@link #mask} the vote vector, and {@link #reveal} shares for unmasking.
 * Holds this round's secrets in memory only; a new round needs a new instance.
 */
public final class SecAggAgent {
    private final SecAggRound round;
    private final int self;
    private final X25519Keys shareKeys;
    private final X25519Keys maskKeys;
    private final byte[] selfMaskSeed;
    private final Map<Integer, KeyAdvertisement> neighbourKeys = new TreeMap<>();
    /** owner index -> {share of owner's self-mask seed, share of owner's mask private key}. */
    private final Map<Integer, SeedShare[]> heldShares = new TreeMap<>();
    private boolean shared;
    private boolean revealed;

    /**
     * One agent's secrets of one round: the two X25519 key pairs and the self-mask seed. Made and advertised
     * before the roster is fixed, when the roster is formed from the agents that advertised (Bonawitz's U1).
     */
    public static final class RoundKeys {
        private final X25519Keys shareKeys;
        private final X25519Keys maskKeys;
        private final byte[] selfMaskSeed;

        private RoundKeys(SecureRandom random) {
            this.shareKeys = X25519Keys.generate(random);
            this.maskKeys = X25519Keys.generate(random);
            this.selfMaskSeed = new byte[MaskPrg.SEED_BYTES];
            random.nextBytes(selfMaskSeed);
        }

        public static RoundKeys generate(SecureRandom random) {
            return new RoundKeys(random);
        }

        /** Phase 1: the public keys, signed with the agent's identity key. */
        public KeyAdvertisement advertise(String jobId, int roundIndex, String agentId, PrivateKey identityKey) {
            return KeyAdvertisement.sign(jobId, roundIndex, agentId, shareKeys.publicKey(), maskKeys.publicKey(), identityKey);
        }
    }

    public SecAggAgent(SecAggRound round, int self, SecureRandom random) {
        this(round, self, RoundKeys.generate(random));
    }

    /** With keys already advertised (see {@link RoundKeys}). */
    public SecAggAgent(SecAggRound round, int self, RoundKeys keys) {
        this.round = round;
        this.self = self;
        this.shareKeys = keys.shareKeys;
        this.maskKeys = keys.maskKeys;
        this.selfMaskSeed = keys.selfMaskSeed;
    }

    public int index() {
        return self;
    }

    /** Phase 1: this round's public keys, signed with the agent's identity key. */
    public KeyAdvertisement advertise(PrivateKey identityKey) {
        return KeyAdvertisement.sign(round.jobId(), round.roundIndex(), round.agentId(self), shareKeys.publicKey(), maskKeys.publicKey(), identityKey);
    }

    /**
     * Phase 2: verifies each neighbour's advertisement against its identity key, splits the self-mask
     * seed and the mask private key t-of-degree among the neighbours, and seals one envelope per
     * neighbour. Neighbours without an advertisement are left out (they dropped before phase 2).
     */
    public List<ShareEnvelope> shareSecrets(Map<Integer, KeyAdvertisement> advertisements, Map<Integer, PublicKey> identityKeys, SecureRandom random) {
        if (shared) {
            throw new IllegalStateException("agent " + round.agentId(self) + " already shared its secrets for round " + round.roundIndex());
        }
        shared = true;
        int[] neighbours = round.graph().neighbours(self);
        for (int v : neighbours) {
            KeyAdvertisement ad = advertisements.get(v);
            if (ad == null) {
                continue;
            }
            if (!ad.agentId().equals(round.agentId(v)) || ad.roundIndex() != round.roundIndex()) {
                throw new InvalidSecurityInputException("key advertisement of " + round.agentId(v),
                        "is for " + ad.agentId() + " in round " + ad.roundIndex());
            }
            PublicKey identity = identityKeys.get(v);
            if (identity == null) {
                throw new InvalidSecurityInputException("key advertisement of " + round.agentId(v), "comes with no identity key to verify it");
            }
            ad.verify(round.jobId(), identity);
            neighbourKeys.put(v, ad);
        }
        if (neighbourKeys.size() < round.threshold()) {
            throw new InsufficientSharesException("agent " + round.agentId(self) + " has " + neighbourKeys.size() + " neighbours with keys, fewer than the threshold "
                    + round.threshold(), List.of(round.agentId(self)));
        }
        List<SeedShare> seedShares = Shamir.split(selfMaskSeed, round.threshold(), neighbours.length, random);
        List<SeedShare> keyShares = Shamir.split(maskKeys.privateKey(), round.threshold(), neighbours.length, random);
        List<ShareEnvelope> out = new ArrayList<>();
        for (int i = 0; i < neighbours.length; i++) {
            int v = neighbours[i];
            KeyAdvertisement ad = neighbourKeys.get(v);
            if (ad == null) {
                continue;
            }
            byte[] plaintext = new byte[2 * SeedShare.BYTES];
            System.arraycopy(seedShares.get(i).toBytes(), 0, plaintext, 0, SeedShare.BYTES);
            System.arraycopy(keyShares.get(i).toBytes(), 0, plaintext, SeedShare.BYTES, SeedShare.BYTES);
            out.add(new ShareEnvelope(self, v, ShareCipher.seal(envelopeKey(self, v, ad), self, v, plaintext)));
        }
        return out;
    }

    /** Phase 2, receiving side: decrypts a neighbour's envelope and keeps its shares. */
    public void receive(ShareEnvelope envelope) {
        int from = envelope.from();
        String what = "share envelope from " + (from >= 0 && from < round.agentIds().size() ? round.agentId(from) : "index " + from);
        if (envelope.to() != self) {
            throw new InvalidSecurityInputException(what, "is addressed to index " + envelope.to() + ", not " + self);
        }
        KeyAdvertisement ad = neighbourKeys.get(from);
        if (ad == null) {
            throw new InvalidSecurityInputException(what, "comes from no neighbour whose keys this agent verified");
        }
        byte[] plain = ShareCipher.open(envelopeKey(from, self, ad), from, self, envelope.ciphertext(), what);
        if (plain.length != 2 * SeedShare.BYTES) {
            throw new InvalidSecurityInputException(what, "holds " + plain.length + " bytes, not two shares");
        }
        SeedShare seed = SeedShare.fromBytes(java.util.Arrays.copyOfRange(plain, 0, SeedShare.BYTES));
        SeedShare key = SeedShare.fromBytes(java.util.Arrays.copyOfRange(plain, SeedShare.BYTES, plain.length));
        int expected = round.graph().sharePoint(from, self);
        if (seed.x() != expected || key.x() != expected) {
            throw new InvalidSecurityInputException(what, "carries shares for point " + seed.x() + ", this agent's point is " + expected);
        }
        heldShares.put(from, new SeedShare[] {seed, key});
    }

    /**
     * Phase 3: votes + sum over masking peers v > self of PRG(s_uv) - sum over v < self of PRG(s_uv) +
     * PRG(b_u), mod 2^k. Masking peers are the neighbours whose shares arrived, which is exactly the set the
     * coordinator counts as having shared. Returns a new vector; {@code votes} is unchanged.
     */
    public VoteVector mask(VoteVector votes) {
        if (votes.length() != round.weights() || votes.fieldBits() != round.fieldBits()) {
            throw new IllegalArgumentException("round expects " + round.weights() + " x " + round.fieldBits() + " bits, got " + votes);
        }
        VoteVector masked = votes.copy();
        for (int v : heldShares.keySet()) {
            byte[] seed = round.maskSeed(maskKeys.privateKey(), self, v, neighbourKeys.get(v).maskPublicKey());
            if (v > self) {
                MaskPrg.addTo(masked, seed);
            } else {
                MaskPrg.subtractFrom(masked, seed);
            }
        }
        MaskPrg.addTo(masked, selfMaskSeed);
        return masked;
    }

    /** The neighbours this agent masked with. */
    public Set<Integer> maskingPeers() {
        return Collections.unmodifiableSet(heldShares.keySet());
    }

    /**
     * Phase 4: for each neighbour the coordinator lists, the share of its self-mask seed if it survived or
     * of its mask private key if it dropped. Refuses a request that names an agent in both lists (that
     * would hand the coordinator both secrets of one agent and so its unmasked vote), a second request,
     * and a request with fewer survivors than the threshold.
     */
    public List<RevealedShare> reveal(Set<Integer> survivors, Set<Integer> dropped) {
        for (int a : survivors) {
            if (dropped.contains(a)) {
                throw new IllegalArgumentException("agent " + round.agentId(a) + " is listed as both surviving and dropped; revealing both of its secrets would expose its votes");
            }
        }
        if (revealed) {
            throw new IllegalStateException("agent " + round.agentId(self) + " already revealed its shares for round " + round.roundIndex());
        }
        if (survivors.size() < round.threshold()) {
            throw new IllegalArgumentException(survivors.size() + " survivors are fewer than the threshold " + round.threshold());
        }
        revealed = true;
        List<RevealedShare> out = new ArrayList<>();
        for (Map.Entry<Integer, SeedShare[]> e : heldShares.entrySet()) {
            int owner = e.getKey();
            if (survivors.contains(owner)) {
                out.add(new RevealedShare(self, owner, Secret.SELF_MASK_SEED, e.getValue()[0]));
            } else if (dropped.contains(owner)) {
                out.add(new RevealedShare(self, owner, Secret.MASK_PRIVATE_KEY, e.getValue()[1]));
            }
        }
        return out;
    }

    private byte[] envelopeKey(int from, int to, KeyAdvertisement peer) {
        byte[] shared = X25519Keys.agree(shareKeys.privateKey(), peer.sharePublicKey(), peer.agentId());
        return RoundSecrets.shareKey(shared, round.jobId(), round.roundIndex(), round.agentId(from), round.agentId(to));
    }
}
